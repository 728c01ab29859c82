//! Fake backends for tests without a tokio runtime ([`Detached`]): the process-level
//! tests run on std threads, so the hyper [`Backend`]s they send traffic to run on a
//! thread of their own.

use std::net::SocketAddr;
use std::thread::JoinHandle;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

use crate::{Backend, WAIT};

/// A thread running a tokio runtime that hosts [`Backend`]s for a synchronous test.
/// The backends live as long as this value: dropping it drops every backend, stops
/// the runtime (waiting at most [`WAIT`] for its tasks) and joins the thread.
#[derive(Debug)]
pub struct Detached {
    handle: Handle,
    backends: Vec<Backend>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Detached {
    /// Starts the thread and its runtime, hosting no backend yet.
    pub fn start() -> Detached {
        let runtime = Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the backends' runtime: {e}"));
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("testkit-backends".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                runtime.shutdown_timeout(WAIT);
            })
            .unwrap_or_else(|e| panic!("cannot start the backends' thread: {e}"));
        Detached {
            handle,
            backends: Vec::new(),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Hosts a [`Backend::named`]: every request is answered `200` with body `name`.
    /// Returns its address.
    pub fn named(&mut self, name: &str) -> SocketAddr {
        self.host(|| Backend::named(name))
    }

    /// Hosts a [`Backend::named_on`] `addr` (e.g. `127.0.0.2:PORT`, for a DNS name whose
    /// addresses share one port): every request is answered `200` with body `name`.
    pub fn named_on(&mut self, name: &str, addr: SocketAddr) -> SocketAddr {
        let backend = self.handle.block_on(Backend::named_on(name, addr));
        self.backends.push(backend);
        addr
    }

    /// Hosts a [`Backend::named_localhost`] answering `name`, and returns its port:
    /// `localhost:PORT` answers `name` on every address `localhost` resolves to.
    pub fn localhost(&mut self, name: &str) -> u16 {
        let backends = self.inside(|| Backend::named_localhost(name));
        let port = backends
            .first()
            .map(|backend| backend.addr().port())
            .unwrap_or_else(|| panic!("no localhost backend for {name}"));
        self.backends.extend(backends);
        port
    }

    /// Hosts the backend `make` builds (it runs inside this runtime, e.g.
    /// `|| Backend::slow(delay)`), and returns its address.
    pub fn host(&mut self, make: impl FnOnce() -> Backend) -> SocketAddr {
        let backend = self.inside(make);
        let addr = backend.addr();
        self.backends.push(backend);
        addr
    }

    /// Runs `make` on this thread with the runtime entered, so the tasks and sockets
    /// it creates belong to the runtime's thread.
    fn inside<T>(&self, make: impl FnOnce() -> T) -> T {
        let _entered = self.handle.enter();
        make()
    }
}

impl Drop for Detached {
    fn drop(&mut self) {
        // Each backend's drop aborts its task; the runtime then ends them all.
        self.backends.clear();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
