//! The server: binding listeners, the run loop, accept loops, connection serving and
//! graceful drain. Listener changes while it runs come through [`Control`].

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use arc_swap::ArcSwap;
use sluicegate_http::{Live, Source};
use sluicegate_metrics::ConnectionLimit;
use sluicegate_runtime::{SnapshotHandle, supervise};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::accept_backoff::AcceptBackoff;
use crate::admission::{Counts, Slot};
use crate::bound::{Accepting, Bound, Listening};
use crate::control::Control;
use crate::error::ServeError;
use crate::inherited::Inherited;
use crate::phase::{Phase, Phases};
use crate::pipeline;
use crate::shared::Shared;
use crate::workers::Workers;

/// How a drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every connection finished within the drain timeout.
    Drained,
    /// The drain timeout passed; remaining connections were closed.
    TimedOut,
}

/// Bound listeners, ready to serve the handle's live snapshot.
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    /// Bound addresses at bind time, by name.
    addrs: Vec<(String, SocketAddr)>,
}

impl Server {
    /// Binds every listener of the current snapshot, to be served on the caller's
    /// runtime. Nothing serves until [`Server::run`].
    pub async fn bind(handle: Arc<SnapshotHandle>) -> Result<Self, ServeError> {
        Self::bind_on(handle, Workers::current())
    }

    /// Binds every listener of the current snapshot once per worker, to be served on
    /// `workers`. Nothing serves until [`Server::run`].
    pub fn bind_on(handle: Arc<SnapshotHandle>, workers: Workers) -> Result<Self, ServeError> {
        Self::bind_inherited(handle, workers, Inherited::default())
    }

    /// Like [`Server::bind_on`], taking the sockets of `inherited` (socket activation,
    /// a binary upgrade) for the listeners configured on their addresses instead of
    /// binding new ones (see `inherited.rs`); a listener added by a later reload may
    /// take one too.
    pub fn bind_inherited(
        handle: Arc<SnapshotHandle>,
        workers: Workers,
        inherited: Inherited,
    ) -> Result<Self, ServeError> {
        let snapshot = handle.load();
        let mut listeners = Vec::with_capacity(snapshot.listeners.len());
        for l in &snapshot.listeners {
            let bound = Bound::bind(l.name.as_str(), l.address, workers.len(), &inherited)?;
            listeners.push(bound);
        }
        let addrs = listeners
            .iter()
            .map(|l| (l.name.to_string(), l.local))
            .collect();
        Ok(Self {
            shared: Arc::new(Shared::new(handle, listeners, workers, inherited)),
            addrs,
        })
    }

    /// Closes the handed-over sockets no listener took at bind time, and returns
    /// their addresses (a socket nobody accepts on would hold its clients waiting).
    pub fn close_untaken(&self) -> Vec<SocketAddr> {
        self.shared.inherited.close_untaken()
    }

    /// A handle that applies new snapshots to this server, before or while it runs.
    pub fn control(&self) -> Control {
        Control {
            shared: self.shared.clone(),
        }
    }

    /// The bound address of each listener at bind time, by name (port 0 resolved).
    /// [`Control::local_addr`] knows about listeners added later.
    pub fn local_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.addrs.clone()
    }

    /// The bound address of one listener at bind time.
    pub fn local_addr(&self, listener: &str) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(name, _)| name == listener)
            .map(|(_, addr)| *addr)
    }

    /// Serves until `shutdown` completes, then stops accepting on every listener (new
    /// connections are refused), lets in-flight requests finish for up to the
    /// snapshot's drain timeout, and closes what is left. Listeners added by
    /// [`Control::apply`] meanwhile are served and drained the same way.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> DrainOutcome {
        let shared = self.shared;
        let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
        let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
        // Health checks run until the drain ends, so in-flight retries still see them.
        let checks = AbortOnDrop(tokio::spawn(supervise(shared.handle.clone())));
        let mut loops: Vec<JoinHandle<()>> = Vec::new();
        tokio::pin!(shutdown);
        loop {
            for accepting in shared.take_pending() {
                let Accepting { sockets, listening } = accepting;
                // Round the workers: a listener handed more sockets than there are
                // workers keeps them all.
                let workers = shared.workers.handles().iter().cycle();
                for (socket, worker) in sockets.into_iter().zip(workers) {
                    let accept = accept_loop(
                        socket,
                        listening.clone(),
                        shared.live.clone(),
                        (phase_rx.clone(), shared.connections.clone()),
                        done_tx.clone(),
                    );
                    loops.push(worker.spawn(accept));
                }
            }
            // Loops of removed listeners have ended.
            loops.retain(|accept| !accept.is_finished());
            tokio::select! {
                () = &mut shutdown => break,
                () = shared.wake.notified() => {}
            }
        }
        shared.stop();
        drop(done_tx);
        let drain_timeout = shared.live.load().snapshot.drain_timeout;
        tracing::info!("shutting down: stopped accepting, draining for up to {drain_timeout:?}");
        phase_tx.send_replace(Phase::Draining);
        for accept in loops {
            let _ = accept.await;
        }
        let outcome = match tokio::time::timeout(drain_timeout, done_rx.recv()).await {
            Ok(_) => DrainOutcome::Drained,
            Err(_) => {
                phase_tx.send_replace(Phase::Closing);
                DrainOutcome::TimedOut
            }
        };
        drop(checks);
        tracing::info!(?outcome, "drain finished");
        outcome
    }
}

/// Accepts on one of a listener's sockets until the server or the listener drains,
/// then drops the socket so new connections are refused. Runs on a worker, and the
/// connections it accepts stay there. Every connection holds `done` (the server's
/// drain), the listener's own `open` (its drain on removal) and its admission slot
/// (`admission.rs`: the listener's and the process's `max_connections`, `process`
/// counting the process's open connections). A failed accept backs off
/// (`accept_backoff.rs`).
async fn accept_loop(
    socket: std::net::TcpListener,
    listening: Listening,
    live: Arc<ArcSwap<Live>>,
    (server, process): (watch::Receiver<Phase>, Arc<AtomicUsize>),
    done: mpsc::Sender<()>,
) {
    let name = listening.name.clone();
    let socket = match TcpListener::from_std(socket) {
        Ok(socket) => socket,
        Err(error) => {
            tracing::error!(listener = %name, "cannot register the listening socket: {error}");
            return;
        }
    };
    let counts = Counts {
        listener: listening.connections.clone(),
        process,
    };
    let phases = Phases::new(server, listening.phase.clone());
    // One wait for the drain for the whole loop: made anew for each accept, it
    // registered and removed two watch waiters per connection (~1,600 instructions a
    // connection under callgrind, `benches/instructions.sh --handshakes`).
    let mut stop = phases.clone();
    let draining = stop.reached(Phase::Draining);
    tokio::pin!(draining);
    let mut backoff = AcceptBackoff::default();
    loop {
        let accepted = tokio::select! {
            () = &mut draining => break,
            accepted = socket.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.succeeded();
                let Some(slot) = admit(&live, &name, &counts, peer.ip()) else {
                    continue; // Closed here, unread.
                };
                let source = Source {
                    live: live.clone(),
                    retired: listening.retired.clone(),
                };
                let held = (done.clone(), listening.open.clone(), slot);
                let accepted = (stream, peer, name.clone());
                tokio::spawn(pipeline::serve(accepted, source, phases.clone(), held));
            }
            Err(error) => {
                if let Some(l) = live.load().snapshot.listener(&name) {
                    l.series.accept_failed();
                }
                backoff.failed(&name, &error).await;
            }
        }
    }
    // Dropping the socket here makes new connections fail at once.
}

/// A slot for a connection just accepted on `listener` from `source`, under the limits
/// of the live config: open connections first (a connection refused there takes no
/// token), then the listener's connection rate for `source`. `None` when a limit
/// refuses it (counted, and logged at debug level: a flood must not flood the log).
fn admit(live: &ArcSwap<Live>, listener: &str, counts: &Counts, source: IpAddr) -> Option<Slot> {
    let live = live.load();
    let snapshot = &live.snapshot;
    let l = snapshot.listener(listener)?;
    let admitted = counts
        .admit(l.max_connections, snapshot.max_connections)
        .and_then(|slot| match &l.connection_rate {
            Some(rate) if rate.check_address(source).is_err() => Err(ConnectionLimit::SourceRate),
            _ => Ok(slot),
        });
    match admitted {
        Ok(slot) => Some(slot),
        Err(limit) => {
            l.series.connection_refused(limit);
            tracing::debug!(
                listener,
                reason = limit.label(),
                "connection refused: limit reached"
            );
            None
        }
    }
}

/// Aborts its task when dropped (also when `run` itself is dropped mid-way).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
