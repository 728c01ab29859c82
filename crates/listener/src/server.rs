//! Binding listeners, accept loops, connection serving and graceful drain.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use sluicegate_runtime::{Snapshot, SnapshotHandle};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::proxy::{Live, handle};
use crate::upstream::Upstreams;

/// Time a client gets to send a complete request head (hyper's default, made explicit:
/// hyper enforces it only when a timer is set). Slowloris protection.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// A failure to start serving.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener's address could not be bound (in use, not local, no permission).
    #[error("listener {listener}: cannot bind {address}: {source}")]
    Bind {
        /// Listener name.
        listener: String,
        /// The address it wanted.
        address: SocketAddr,
        /// Why the OS said no.
        #[source]
        source: io::Error,
    },
    /// A reload changes the set of listeners, which this server cannot apply yet.
    #[error("listeners changed ({0}): restart sluicegate to apply listener changes")]
    ListenersChanged(String),
}

/// How a drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrainOutcome {
    /// Every connection finished within the drain timeout.
    Drained,
    /// The drain timeout passed; remaining connections were closed.
    TimedOut,
}

/// Lifecycle state sent to every accept loop and connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd)]
enum Phase {
    Serving,
    Draining,
    Closing,
}

/// Bound listeners, ready to serve the handle's live snapshot.
#[derive(Debug)]
pub struct Server {
    handle: Arc<SnapshotHandle>,
    live: Arc<ArcSwap<Live>>,
    sockets: Vec<(Arc<str>, TcpListener)>,
}

impl Server {
    /// Binds every listener of the current snapshot. Nothing serves until [`Server::run`].
    pub async fn bind(handle: Arc<SnapshotHandle>) -> Result<Self, ServeError> {
        let snapshot = handle.load();
        let mut sockets = Vec::with_capacity(snapshot.listeners.len());
        for l in &snapshot.listeners {
            let socket = TcpListener::bind(l.address)
                .await
                .map_err(|source| ServeError::Bind {
                    listener: l.name.to_string(),
                    address: l.address,
                    source,
                })?;
            sockets.push((Arc::from(l.name.as_str()), socket));
        }
        let upstreams = Upstreams::build(&snapshot, None);
        let live = Arc::new(ArcSwap::from_pointee(Live {
            snapshot,
            upstreams,
        }));
        Ok(Self {
            handle,
            live,
            sockets,
        })
    }

    /// A handle that applies new snapshots to this server while it runs.
    pub fn control(&self) -> Control {
        Control {
            handle: self.handle.clone(),
        }
    }

    /// The bound address of each listener, by name (port 0 resolved).
    pub fn local_addrs(&self) -> Vec<(String, SocketAddr)> {
        self.sockets
            .iter()
            .filter_map(|(name, s)| Some((name.to_string(), s.local_addr().ok()?)))
            .collect()
    }

    /// The bound address of one listener.
    pub fn local_addr(&self, listener: &str) -> Option<SocketAddr> {
        let (_, socket) = self.sockets.iter().find(|(name, _)| &**name == listener)?;
        socket.local_addr().ok()
    }

    /// Serves until `shutdown` completes, then stops accepting (new connections are
    /// refused), lets in-flight requests finish for up to the snapshot's drain timeout,
    /// and closes what is left.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> DrainOutcome {
        let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
        let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
        let refresher = tokio::spawn(refresh(self.handle.clone(), self.live.clone()));
        let mut loops = Vec::new();
        for (name, socket) in self.sockets {
            let accept = accept_loop(
                name,
                socket,
                self.live.clone(),
                phase_rx.clone(),
                done_tx.clone(),
            );
            loops.push(tokio::spawn(accept));
        }
        drop(done_tx);
        shutdown.await;
        let drain_timeout = self.live.load().snapshot.drain_timeout;
        tracing::info!("shutting down: stopped accepting, draining for up to {drain_timeout:?}");
        phase_tx.send_replace(Phase::Draining);
        for accept in loops {
            let _ = accept.await;
        }
        refresher.abort();
        let outcome = match tokio::time::timeout(drain_timeout, done_rx.recv()).await {
            Ok(_) => DrainOutcome::Drained,
            Err(_) => {
                phase_tx.send_replace(Phase::Closing);
                DrainOutcome::TimedOut
            }
        };
        tracing::info!(?outcome, "drain finished");
        outcome
    }
}

/// Applies new snapshots to a running [`Server`].
#[derive(Clone, Debug)]
pub struct Control {
    handle: Arc<SnapshotHandle>,
}

impl Control {
    /// Publishes `next`. Requests already running finish on the snapshot they started
    /// with. A snapshot whose listeners (names or addresses) differ from the running
    /// ones is refused and nothing changes.
    pub async fn apply(&self, next: Snapshot) -> Result<(), ServeError> {
        let current = self.handle.load();
        let key = |s: &Snapshot| -> Vec<(String, SocketAddr)> {
            s.listeners
                .iter()
                .map(|l| (l.name.to_string(), l.address))
                .collect()
        };
        if key(&current) != key(&next) {
            let describe = |s: &Snapshot| {
                key(s)
                    .iter()
                    .map(|(n, a)| format!("{n} {a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(ServeError::ListenersChanged(format!(
                "{} → {}",
                describe(&current),
                describe(&next)
            )));
        }
        self.handle.publish(next);
        Ok(())
    }

    /// The snapshot being served.
    pub fn current(&self) -> Arc<Snapshot> {
        self.handle.load()
    }
}

/// Rebuilds the upstream clients whenever a new snapshot is published.
async fn refresh(handle: Arc<SnapshotHandle>, live: Arc<ArcSwap<Live>>) {
    let mut generations = handle.subscribe();
    while generations.changed().await.is_ok() {
        let snapshot = handle.load();
        let previous = live.load_full();
        let upstreams =
            Upstreams::build(&snapshot, Some((&previous.snapshot, &previous.upstreams)));
        live.store(Arc::new(Live {
            snapshot,
            upstreams,
        }));
    }
}

async fn accept_loop(
    name: Arc<str>,
    socket: TcpListener,
    live: Arc<ArcSwap<Live>>,
    mut phase: watch::Receiver<Phase>,
    done: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            _ = reached(&mut phase, Phase::Draining) => break,
            accepted = socket.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let conn = serve(stream, peer, name.clone(), live.clone(), phase.clone());
                let done = done.clone();
                tokio::spawn(async move {
                    conn.await;
                    drop(done);
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

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<str>,
    live: Arc<ArcSwap<Live>>,
    mut phase: watch::Receiver<Phase>,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let live = live.load_full();
        let listener = listener.clone();
        async move { Ok::<_, Infallible>(handle(live, &listener, peer, request).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut closing = phase.clone();
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = reached(&mut phase, Phase::Draining) => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                result = conn.as_mut() => result,
                _ = reached(&mut closing, Phase::Closing) => return,
            }
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, "client connection ended with an error: {error}");
    }
}

/// Resolves once the phase is at least `phase` (or the server is gone).
async fn reached(rx: &mut watch::Receiver<Phase>, phase: Phase) {
    let _ = rx.wait_for(|p| *p >= phase).await;
}
