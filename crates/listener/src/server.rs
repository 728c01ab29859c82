//! The server: binding listeners, the run loop, accept loops, connection serving and
//! graceful drain. Listener changes while it runs come through [`Control`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use sluicegate_http::{Live, Source};
use sluicegate_runtime::{SnapshotHandle, supervise};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::bound::{Accepting, Bound, Listening};
use crate::control::Control;
use crate::error::ServeError;
use crate::phase::{Phase, Phases};
use crate::pipeline;
use crate::shared::Shared;
use crate::workers::Workers;
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

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
        let snapshot = handle.load();
        let mut listeners = Vec::with_capacity(snapshot.listeners.len());
        for l in &snapshot.listeners {
            listeners.push(Bound::bind(l.name.as_str(), l.address, workers.len())?);
        }
        let addrs = listeners
            .iter()
            .map(|l| (l.name.to_string(), l.local))
            .collect();
        Ok(Self {
            shared: Arc::new(Shared::new(handle, listeners, workers)),
            addrs,
        })
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
                for (socket, worker) in sockets.into_iter().zip(shared.workers.handles()) {
                    let accept = accept_loop(
                        socket,
                        listening.clone(),
                        shared.live.clone(),
                        phase_rx.clone(),
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
/// drain) and the listener's own `open` (its drain on removal).
async fn accept_loop(
    socket: std::net::TcpListener,
    listening: Listening,
    live: Arc<ArcSwap<Live>>,
    server: watch::Receiver<Phase>,
    done: mpsc::Sender<()>,
) {
    let Listening {
        name,
        phase,
        retired,
        open,
    } = listening;
    let socket = match TcpListener::from_std(socket) {
        Ok(socket) => socket,
        Err(error) => {
            tracing::error!(listener = %name, "cannot register the listening socket: {error}");
            return;
        }
    };
    let mut phases = Phases::new(server, phase);
    loop {
        let accepted = tokio::select! {
            () = phases.reached(Phase::Draining) => break,
            accepted = socket.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let source = Source {
                    live: live.clone(),
                    retired: retired.clone(),
                };
                let conn = pipeline::serve(stream, peer, name.clone(), source, phases.clone());
                let held = (done.clone(), open.clone());
                tokio::spawn(async move {
                    conn.await;
                    drop(held);
                });
            }
            Err(error) => {
                tracing::warn!(listener = %name, "accept failed: {error}");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
        }
    }
    // Dropping the socket here makes new connections fail at once.
}

/// Aborts its task when dropped (also when `run` itself is dropped mid-way).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
