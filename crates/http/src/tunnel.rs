//! A tunnel: the client's and the backend's upgraded connections joined by a
//! bidirectional copy (`tokio::io::copy_bidirectional_with_sizes`), until both sides
//! have closed, one of them fails, no byte moves either way for the listener's
//! `tunnel_idle_timeout`, or its client connection is closed by a drain (the caller
//! stops awaiting [`Tunnel::run`]). A FIN from one side reaches the other as a
//! shutdown of writes, and the other direction keeps flowing until its side closes.
//!
//! What a tunnel holds while it runs: the two connections, its backend's in-flight
//! guard (so least-connections counts it, and a drained backend waits for it), its
//! listener's tunnel gauge and the idle timeout it opened with. Nothing of the
//! snapshot it was opened under: a reload neither reaches it nor is held up by it.

use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use metrics::Gauge;
use sluicegate_runtime::{InFlightGuard, RetryGuard};

use crate::upgrades::Opener;
use sluicegate_transport::{Activity, Stamped};

/// Bytes buffered per direction: a few TCP segments' worth, small enough that many
/// idle tunnels cost little.
const BUFFER: usize = 16 * 1024;

/// The backend's side of a tunnel to be, taken from its `101`: the connection hyper
/// hands over, and what counts the exchange as in flight on its backend.
#[derive(Debug)]
pub(crate) struct BackendSide {
    /// Resolves to the backend connection once hyper has read the `101`.
    pub(crate) upgrade: OnUpgrade,
    /// The attempt's in-flight guard (and a retry's budget slot, never held by an
    /// upgrade, which is not resent).
    pub(crate) guards: (InFlightGuard, Option<RetryGuard>),
}

/// The client's side: the connection hyper hands over once it has written the `101`,
/// and the opener that lets the head guard pass its bytes on.
#[derive(Debug)]
pub(crate) struct ClientSide {
    /// Resolves to the client connection once hyper has written the `101`.
    pub(crate) upgrade: OnUpgrade,
    /// Switches the head guard to pass-through.
    pub(crate) opener: Opener,
}

/// A switched exchange, to run once hyper lets go of the client connection.
#[derive(Debug)]
pub(crate) struct Tunnel {
    client: ClientSide,
    backend: BackendSide,
    idle_timeout: Duration,
    /// `sluicegate_tunnels_active`, one unit held until the tunnel ends.
    active: Active,
}

/// One unit of the tunnel gauge, given back on drop.
#[derive(Debug)]
struct Active(Gauge);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl Tunnel {
    /// Joins both sides; `active` is the gauge unit it holds (see
    /// `ListenerSeries::tunnel_opened`), `idle_timeout` the listener's.
    pub(crate) fn new(
        client: ClientSide,
        backend: BackendSide,
        idle_timeout: Duration,
        active: Gauge,
    ) -> Self {
        Self {
            client,
            backend,
            idle_timeout,
            active: Active(active),
        }
    }

    /// Copies both ways until the tunnel ends (see the module docs); both connections
    /// close when this returns or is dropped.
    pub(crate) async fn run(self) {
        let Tunnel {
            client,
            backend,
            idle_timeout,
            active,
        } = self;
        let BackendSide { upgrade, guards } = backend;
        let activity = Activity::new();
        tokio::select! {
            () = copy(client, upgrade, activity.clone()) => {}
            () = activity.idle_for(idle_timeout) => {
                tracing::debug!("tunnel idle for {idle_timeout:?}: closed");
            }
        }
        drop((guards, active));
    }
}

/// Waits for both connections, opens the client's to the tunnel, and copies both
/// ways, stamping `activity`.
async fn copy(client: ClientSide, backend: OnUpgrade, activity: std::sync::Arc<Activity>) {
    let (client_io, backend_io) = match tokio::try_join!(client.upgrade, backend) {
        Ok(both) => both,
        Err(error) => return tracing::debug!("tunnel could not open: {error}"),
    };
    client.opener.open();
    let mut near = Stamped::new(TokioIo::new(client_io), activity.clone());
    let mut far = Stamped::new(TokioIo::new(backend_io), activity);
    match tokio::io::copy_bidirectional_with_sizes(&mut near, &mut far, BUFFER, BUFFER).await {
        Ok((up, down)) => tracing::debug!(up, down, "tunnel closed by both sides"),
        Err(error) => tracing::debug!("tunnel ended: {error}"),
    }
}
