//! One bound listener: its socket (held until an accept loop takes it), its own
//! phase, and its drain when a reload removes it. It keeps a duplicate of each
//! socket for as long as it accepts, to hand them over to a new binary (an upgrade).

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sluicegate_http::Live;
use sluicegate_runtime::Listener;
use tokio::sync::{mpsc, watch};

use crate::error::ServeError;
use crate::inherited::{Inherited, from_taken};
use crate::phase::Phase;
use crate::sockets;

/// The config a removed listener's connections keep serving with. Empty while the
/// listener is in the published snapshot: its connections then read the live one.
pub(crate) type Retired = Arc<OnceLock<Arc<Live>>>;

/// What the accept loops of a listener need: a socket each, and the listener's own
/// signals.
#[derive(Debug)]
pub(crate) struct Accepting {
    /// The listening sockets, one per worker (not yet registered with a runtime:
    /// each accept loop registers its own). Dropping them refuses new connections.
    pub(crate) sockets: Vec<std::net::TcpListener>,
    pub(crate) listening: Listening,
}

/// The listener as each of its accept loops knows it.
#[derive(Clone, Debug)]
pub(crate) struct Listening {
    /// Listener name, as routes and logs know it.
    pub(crate) name: Arc<str>,
    /// The listener's phase: `Draining` once a reload removes it.
    pub(crate) phase: watch::Receiver<Phase>,
    /// Set when the listener is removed (see [`Retired`]).
    pub(crate) retired: Retired,
    /// Held by the accept loops and every connection they accepted; closes once all
    /// end.
    pub(crate) open: mpsc::Sender<()>,
    /// Its open connections, for its `max_connections`.
    pub(crate) connections: Arc<AtomicUsize>,
}

/// A listener that is bound, as the server's registry keeps it.
#[derive(Debug)]
pub(crate) struct Bound {
    /// Listener name.
    pub(crate) name: Arc<str>,
    /// The configured address (port 0 unresolved): with the name, its identity.
    pub(crate) configured: SocketAddr,
    /// The address the socket got.
    pub(crate) local: SocketAddr,
    /// Until the run loop starts its accept loop.
    pub(crate) pending: Option<Accepting>,
    /// Duplicates of the sockets (the same queues), for [`crate::Control::handover`];
    /// dropped when the listener stops accepting, so its sockets really close then.
    pub(crate) handover: Vec<std::net::TcpListener>,
    phase: watch::Sender<Phase>,
    retired: Retired,
    /// Yields `None` once the accept loop and all its connections have ended.
    open: mpsc::Receiver<()>,
}

impl Bound {
    /// Binds listener `name` on `address`: one socket for each of `workers`.
    pub(crate) fn bind(
        name: &str,
        address: SocketAddr,
        workers: usize,
        inherited: &Inherited,
    ) -> Result<Self, ServeError> {
        let bind_error = |reason| ServeError::Bind {
            listener: name.to_owned(),
            address,
            reason,
        };
        let taken = inherited.take(address);
        let (sockets, local) = if taken.is_empty() {
            sockets::bind(address, workers).map_err(bind_error)?
        } else {
            let sockets = from_taken(taken, address, workers).map_err(bind_error)?;
            (sockets, address)
        };
        let handover = sockets
            .iter()
            .map(std::net::TcpListener::try_clone)
            .collect::<Result<_, _>>()
            .map_err(bind_error)?;
        let name: Arc<str> = Arc::from(name);
        let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
        let (open_tx, open_rx) = mpsc::channel(1);
        let retired = Retired::default();
        Ok(Self {
            name: name.clone(),
            configured: address,
            local,
            pending: Some(Accepting {
                sockets,
                listening: Listening {
                    name,
                    phase: phase_rx,
                    retired: retired.clone(),
                    open: open_tx,
                    connections: Arc::default(),
                },
            }),
            handover,
            phase: phase_tx,
            retired,
            open: open_rx,
        })
    }

    /// Whether this is `listener`: same name, same configured address.
    pub(crate) fn is(&self, listener: &Listener) -> bool {
        *self.name == *listener.name.as_str() && self.configured == listener.address
    }

    /// Stops accepting at once and pins the config its connections finish with
    /// (`last`, which must contain this listener). Call before publishing the
    /// snapshot without it; then [`Bound::drain`].
    pub(crate) fn retire(&mut self, last: Arc<Live>) {
        let _ = self.retired.set(last);
        // A socket no accept loop took yet is closed here; a running loop closes its
        // own on this signal.
        self.pending = None;
        self.handover.clear();
        self.phase.send_replace(Phase::Draining);
    }

    /// Waits for the retired listener's connections to finish their in-flight
    /// requests, for up to `timeout`, then closes the rest.
    pub(crate) async fn drain(mut self, timeout: Duration) {
        if tokio::time::timeout(timeout, self.open.recv())
            .await
            .is_err()
        {
            tracing::info!(listener = %self.name, "removed listener: drain timed out, closing its connections");
            self.phase.send_replace(Phase::Closing);
        }
    }
}
