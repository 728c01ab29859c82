//! A request that asks for an upgrade, from its head to its tunnel: the client's side
//! is taken as the request reaches the service ([`Asked::take`]), and joined with the
//! backend's side when the backend answers `101` ([`Asked::answered`]) into the
//! [`Tunnel`] its connection runs once hyper has written the `101` and let go.
//!
//! Any other answer (the backend's `200` or `404`, a 502 of the proxy's own …) drops
//! the ask, and with it its [`Ticket`]: the head guard reads what follows the head as
//! the next request, and the connection goes on as HTTP.

use http::header::HeaderValue;
use http::{Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use sluicegate_runtime::Listener;

use crate::body::ProxyBody;
use crate::conn::ClientConn;
use crate::tunnel::{ClientSide, Tunnel};
use crate::upgrade::offered;
use crate::upgrades::Ticket;

/// The client's side of an upgrade that is honoured.
#[derive(Debug)]
pub(crate) struct Asked {
    ticket: Ticket,
    client: OnUpgrade,
    /// The protocols offered, as the backend's `Upgrade` (`h2c` left out).
    pub(crate) protocols: HeaderValue,
}

impl Asked {
    /// The ask of `request`, the request `conn` serves now: `None` unless the head
    /// guard held what follows its head (the guard's reading of the head decides),
    /// hyper's fields offer a protocol, and hyper can hand the connection over. Take
    /// it before anything else: until it is dropped or answered, the guard reads
    /// nothing more from the client.
    pub(crate) fn take<B>(conn: &ClientConn, request: &mut Request<B>) -> Option<Self> {
        let ticket = conn.upgrades.ticket(conn.refusals.serving())?;
        let protocols = offered(request.headers())?;
        let client = request.extensions_mut().remove::<OnUpgrade>()?;
        Some(Self {
            ticket,
            client,
            protocols,
        })
    }

    /// Settles the ask with `response`, the answer about to go to the client. A
    /// `101` carrying the backend's side becomes a tunnel filed on `conn`, counted
    /// and timed by `listener`; any other answer lets the connection go on as HTTP.
    pub(crate) fn answered(
        self,
        response: &mut Response<ProxyBody>,
        conn: &ClientConn,
        listener: &Listener,
    ) {
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return;
        }
        let Some(backend) = response.body_mut().take_switched() else {
            return;
        };
        let client = ClientSide {
            upgrade: self.client,
            opener: self.ticket.switched(),
        };
        let active = listener.series.tunnel_opened();
        let tunnel = Tunnel::new(client, backend, listener.tunnel_idle_timeout, active);
        conn.open_tunnel(tunnel);
    }
}
