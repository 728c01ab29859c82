//! Serving HTTP/1.1 on one accepted connection: the head guard in front of hyper's
//! HTTP/1 server, a service that answers refused heads and hands every other request
//! to [`crate::proxy::handle`], the tunnel a `101` leaves behind
//! ([`crate::tunnel`]), and the connection's graceful end when its listener drains.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::conn::ClientConn;
use crate::head_guard::HeadGuard;
use crate::live::Live;
use crate::proxy::handle;
use crate::{refusal, rejected};

/// Time a client gets to send a complete request head (hyper's default, made explicit:
/// hyper enforces it only when a timer is set). Slowloris protection.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What the listener knows of a connection it accepted.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The listener's name, as routes, metrics and logs know it.
    pub listener: Arc<str>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the client connected to, when the socket knows it.
    pub local: Option<SocketAddr>,
}

/// Where a connection's requests read the config they are served with.
#[derive(Clone, Debug)]
pub struct Source {
    /// The published config, read once per request.
    pub live: Arc<ArcSwap<Live>>,
    /// Set when the connection's listener is removed by a reload: the last config
    /// that had it, which its remaining requests are served with. Empty otherwise.
    pub retired: Arc<OnceLock<Arc<Live>>>,
}

/// Serves HTTP/1.1 on `stream` until the client closes it. Once `draining`
/// resolves, the connection finishes the request in flight and closes; once
/// `closing` resolves after that, it is dropped at once. A connection that ends
/// with hyper refusing a request head is counted and logged as a rejected request.
/// A connection switched by a `101` runs its tunnel until the tunnel ends or
/// `closing` resolves: a tunnel has no request boundary to drain at.
pub async fn serve<S>(
    stream: S,
    accepted: Accepted,
    source: Source,
    draining: impl Future<Output = ()>,
    closing: impl Future<Output = ()>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Accepted {
        listener,
        peer,
        local,
    } = accepted;
    let conn = Arc::new(ClientConn::new(listener.clone(), peer, local));
    let stream = HeadGuard::new(stream, conn.refusals.clone(), conn.upgrades.clone());
    let switched = conn.clone();
    let closing_live = source.live.clone();
    let Source { live, retired } = source;
    let service = service_fn(move |request| {
        // Load the live config first: `Control::apply` pins `retired` before it
        // publishes, so a request that sees the snapshot without this listener also
        // sees the pinned one.
        let current = live.load_full();
        let live = retired.get().cloned().unwrap_or(current);
        let conn = conn.clone();
        async move {
            if let Some(refusal) = conn.refusals.next() {
                return Ok::<_, Infallible>(refusal::answer(&live, &conn, peer, refusal));
            }
            Ok(handle(live, &conn, request).await)
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn, draining, closing);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = &mut draining => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                result = conn.as_mut() => result,
                () = &mut closing => return,
            }
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, "client connection ended with an error: {error}");
        let live = closing_live.load_full();
        let series = live.snapshot.listener(&listener).map(|l| &l.series);
        rejected::record_hyper(series, &listener, peer, &error);
    }
    if let Some(tunnel) = switched.take_tunnel() {
        tokio::select! {
            () = tunnel.run() => {}
            () = &mut closing => tracing::debug!(%peer, "tunnel closed by the drain"),
        }
    }
}
