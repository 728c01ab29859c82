//! [`ClientConn`]: the client connection a request came on, as its service sees it.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use http::HeaderValue;
use http::uri::Scheme;

use crate::identity::Peer;
use crate::refusals::Refusals;
use crate::tunnel::Tunnel;
use crate::upgrades::Upgrades;
use sluicegate_transport::Activity;

/// The client connection a request came on.
#[derive(Debug)]
pub(crate) struct ClientConn {
    /// The listener's name.
    pub(crate) listener: Arc<str>,
    /// The client's address.
    pub(crate) peer: Peer,
    /// The client's socket address.
    pub(crate) addr: SocketAddr,
    /// The address it connected to (`0.0.0.0:0` when unknown): with `addr`, what a
    /// PROXY protocol header sent for it names.
    pub(crate) local: SocketAddr,
    /// The address it connected to, as a `Host` value: the `Host` of a request that
    /// came without one (HTTP/1.0), so a backend learns the name the client used
    /// rather than its own address.
    pub(crate) host: HeaderValue,
    /// `https` when the listener terminated TLS for it, else `http`: the scheme an
    /// absolute-form target or an HTTP/2 `:scheme` must name, and the
    /// `X-Forwarded-Proto` a backend is told.
    pub(crate) scheme: Scheme,
    /// HTTP/2: when its last request started, for the keep-alive timeout; `None` on
    /// HTTP/1 (its head guard's clock ends an idle HTTP/1 connection).
    pub(crate) requests: Option<Arc<Activity>>,
    /// Heads its guard refused, for the service to answer.
    pub(crate) refusals: Arc<Refusals>,
    /// The upgrade request whose head its guard holds, for the service to decide.
    pub(crate) upgrades: Arc<Upgrades>,
    /// The tunnel its service opened with a `101`, to run once hyper lets go.
    tunnel: Mutex<Option<Tunnel>>,
}

impl ClientConn {
    /// The connection from `peer` to `local` on `listener`, over TLS when `secure`,
    /// speaking HTTP/2 when `http2` (then its requests are clocked for the keep-alive
    /// timeout).
    pub(crate) fn new(
        listener: Arc<str>,
        peer: SocketAddr,
        local: Option<SocketAddr>,
        secure: bool,
        http2: bool,
    ) -> Self {
        let host = local
            .map(crate::addr_text::addr_value)
            .unwrap_or(HeaderValue::from_static("localhost"));
        Self {
            listener,
            peer: Peer::new(peer),
            addr: peer,
            local: local.unwrap_or(SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))),
            host,
            scheme: if secure { Scheme::HTTPS } else { Scheme::HTTP },
            requests: http2.then(Activity::new),
            refusals: Arc::default(),
            upgrades: Arc::default(),
            tunnel: Mutex::default(),
        }
    }

    /// Files the tunnel of the `101` being answered.
    pub(crate) fn open_tunnel(&self, tunnel: Tunnel) {
        *self.tunnel.lock().unwrap_or_else(PoisonError::into_inner) = Some(tunnel);
    }

    /// The tunnel filed, if the service answered a `101`.
    pub(crate) fn take_tunnel(&self) -> Option<Tunnel> {
        self.tunnel
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}
