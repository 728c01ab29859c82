//! The threads connections are served on.
//!
//! With one CPU, connections run on the caller's runtime ([`Workers::current`]).
//! With more, [`Workers::spawn`] starts one thread per CPU, each with a
//! single-threaded tokio runtime of its own (nginx's worker per core, HAProxy's
//! thread per core): every listener gets one accept loop per worker, on a socket of
//! its own bound with `SO_REUSEPORT`, so the kernel spreads new connections over the
//! workers, and a connection stays on the worker that accepted it: no work stealing,
//! no cross-thread wake-up on the request path. Why not tokio's multi-threaded
//! runtime: at `wrk -c 64` on two CPUs it cost 21.3 µs of CPU per request against
//! 15 µs for the same process on one thread (benches/BENCHMARKS.md, scenario t2).
//!
//! Lifecycle: the threads start with [`Workers::spawn`]; each marks itself with its
//! index ([`sluicegate_core::worker::enter`]: the upstream pools keep idle
//! connections per worker) and parks in its runtime until the last [`Workers`] handle
//! is dropped, which stops them (tasks still on them are dropped, as at the end of
//! `block_on`). The server drains every connection before that.

use std::io;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// Where accept loops and their connections run; cheap to clone.
#[derive(Clone, Debug)]
pub struct Workers {
    handles: Arc<[Handle]>,
    /// Dropped with the last clone: the worker threads' signal to stop.
    _stop: Arc<Vec<oneshot::Sender<()>>>,
}

impl Workers {
    /// The calling task's runtime alone. Must be called within a tokio runtime.
    pub fn current() -> Self {
        Self {
            handles: Arc::from([Handle::current()]),
            _stop: Arc::new(Vec::new()),
        }
    }

    /// `count` worker threads (at least one), each on a single-threaded runtime.
    pub fn spawn(count: usize) -> io::Result<Self> {
        let count = count.max(1);
        let mut handles = Vec::with_capacity(count);
        let mut stops = Vec::with_capacity(count);
        sluicegate_core::worker::set_count(count);
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            stops.push(stop);
            std::thread::Builder::new()
                .name(format!("sluicegate-worker-{index}"))
                .spawn(move || {
                    sluicegate_core::worker::enter(index);
                    let _ = runtime.block_on(stopped);
                })?;
        }
        Ok(Self {
            handles: handles.into(),
            _stop: Arc::new(stops),
        })
    }

    /// How many workers there are.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Never: there is at least one worker.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    pub(crate) fn handles(&self) -> &[Handle] {
        &self.handles
    }
}
