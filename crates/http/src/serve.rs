//! Serving HTTP on one accepted connection: HTTP/1.1 in the in-task server
//! ([`crate::h1_server`]), which hands what it does not serve to the head guard in
//! front of hyper's HTTP/1 server, or HTTP/2 on hyper's HTTP/2 server (`serve_h2.rs`;
//! the listener decides which, by ALPN or the client's preface); one service for both that answers refused
//! heads and hands every other request to [`crate::proxy::handle`]; the tunnel an
//! HTTP/1 `101` leaves behind ([`crate::tunnel`]); and the connection's graceful end
//! when its listener drains (HTTP/1: finish the request in flight and close; HTTP/2:
//! GOAWAY, finish the open streams).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use futures_util::future::{FusedFuture, FutureExt};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::{HttpService, service_fn};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::body::{ProxyBody, Watched};
use crate::client_body::FromClient;
use crate::conn::ClientConn;
use crate::h1_server::{self, Ended, Served};
use crate::head_clock::{ClientTimeouts, HeadClock, Responses};
use crate::head_guard::{HeadGuard, Start};
use crate::live::Live;
use crate::park::{self, IdleCount, PARK_AFTER, Parkable, Parking, Woken};
use crate::proxy::handle;
use crate::{refusal, rejected};

/// The HTTP version a connection speaks, as the listener found out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/1.0 or 1.1.
    Http1,
    /// HTTP/2 (by ALPN `h2`, or cleartext with prior knowledge).
    Http2,
}

/// What the listener knows of a connection it accepted.
#[derive(Clone, Debug)]
pub struct Accepted {
    /// The listener's name, as routes, metrics and logs know it.
    pub listener: Arc<str>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the client connected to, when the socket knows it.
    pub local: Option<SocketAddr>,
    /// Whether the listener terminated TLS for it.
    pub secure: bool,
    /// What it speaks.
    pub version: HttpVersion,
    /// Its listener's limits on waiting for it (HTTP/2 uses the keep-alive one: time
    /// without a new request before it is closed gracefully).
    pub timeouts: ClientTimeouts,
    /// When it was accepted: its first head's deadline runs from then (through the
    /// TLS handshake and the protocol sniff).
    pub accepted_at: tokio::time::Instant,
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

impl Source {
    /// The config a connection of this listener reads now: the pinned one of a
    /// removed listener, else the published one.
    pub fn current(&self) -> Arc<Live> {
        let pinned = self.retired.get().cloned();
        pinned.unwrap_or_else(|| self.live.load_full())
    }
}

/// Serves HTTP on `stream` until the client closes it. Once `draining` resolves, the
/// connection finishes what is in flight and closes; once `closing` resolves after
/// that, it is dropped at once. A connection that ends with hyper refusing a request
/// (head or frame) is counted and logged as a rejected request. A connection
/// switched by a `101` runs its tunnel until the tunnel ends or `closing` resolves:
/// a tunnel has no request boundary to drain at.
pub async fn serve<S>(
    stream: S,
    accepted: Accepted,
    source: Source,
    draining: impl Future<Output = ()>,
    closing: impl Future<Output = ()>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (listener, peer) = (accepted.listener.clone(), accepted.peer);
    let conn = Arc::new(ClientConn::new(
        listener.clone(),
        peer,
        accepted.local,
        accepted.secure,
        accepted.version == HttpVersion::Http2,
    ));
    let closing_live = source.live.clone();
    tokio::pin!(closing);
    let result = match accepted.version {
        HttpVersion::Http1 => {
            let (timeouts, since) = (accepted.timeouts, accepted.accepted_at);
            let conn = conn.clone();
            http1(
                stream,
                conn,
                timeouts,
                since,
                source,
                draining,
                closing.as_mut(),
            )
            .await
        }
        // Boxed: hyper's HTTP/2 server is large, and inline every HTTP/1
        // connection's task would carry its size.
        HttpVersion::Http2 => {
            let timeouts = accepted.timeouts;
            Box::pin(crate::serve_h2::http2(
                stream,
                conn.clone(),
                source,
                timeouts,
                draining,
                closing.as_mut(),
            ))
            .await
        }
    };
    let Some(result) = result else {
        return; // Dropped: by the drain, or a stream stalled on the client's window.
    };
    if let Err(error) = result {
        tracing::debug!(%peer, "client connection ended with an error: {error}");
        let live = closing_live.load_full();
        let series = live.snapshot.listener(&listener).map(|l| &l.series);
        rejected::record_hyper(series, &listener, peer, &error);
    }
    if let Some(tunnel) = conn.take_tunnel() {
        tokio::select! {
            () = tunnel.run() => {}
            () = &mut closing => tracing::debug!(%peer, "tunnel closed by the drain"),
        }
    }
}

/// HTTP/1 on `stream`: in the in-task server, and from a head it hands off, behind
/// the head guard and hyper (both keep the connection's deadlines, `limits`, the
/// first from `since`), with upgrades; `None` when `closing` cut it. An idle
/// connection is parked between the two ([`crate::park`]), and served in-task again
/// when it wakes. (One loop over the phases, longer than most: they share the pinned
/// drain and close futures.)
async fn http1<S>(
    stream: S,
    conn: Arc<ClientConn>,
    limits: ClientTimeouts,
    since: tokio::time::Instant,
    source: Source,
    draining: impl Future<Output = ()>,
    closing: impl Future<Output = ()>,
) -> Option<hyper::Result<()>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let responses = Arc::new(Responses::default());
    let mut draining = std::pin::pin!(draining.fuse());
    let mut closing = std::pin::pin!(closing);
    let (mut stream, mut start, mut since) = (stream, Start::default(), since);
    loop {
        let clock = HeadClock::new(limits, responses.clone(), since).parking_after(PARK_AFTER);
        let served = Served {
            conn: &conn,
            source: &source,
            responses: &responses,
        };
        // Boxed: a parked connection holds no request's state.
        let ended = tokio::select! {
            ended = Box::pin(h1_server::serve(stream, start, clock, served, &mut draining)) => ended,
            () = &mut closing => return None,
        };
        let parked = match ended {
            Ended::Closed => return Some(Ok(())),
            Ended::Parked(parked) => parked,
            Ended::Handoff {
                stream,
                start,
                clock,
                timed_out,
            } => {
                let parking = Arc::new(Parking::default());
                let guard = guarded((stream, start, clock), timed_out, &conn, parking.clone());
                // Boxed: a parked connection holds none of hyper's state.
                let served = Box::pin(http1_once(
                    guard,
                    conn.clone(),
                    source.clone(),
                    responses.clone(),
                    draining.as_mut(),
                    closing.as_mut(),
                ))
                .await;
                match parking.take().filter(|_| !draining.is_terminated()) {
                    Some(parked) => parked,
                    None => return served,
                }
            }
        };
        let idle = idle_count(&source, &conn.listener);
        // Boxed: inline, the wait of a parked connection took ~650 bytes of every
        // connection's future, busy ones too (dhat at `-c 1000`); a parked one holds
        // no other state.
        let woken = Box::pin(park::wait(parked, idle, &mut draining, &mut closing)).await;
        (stream, start) = match woken {
            Woken::Bytes(parked, read) => {
                let heads = parked.heads;
                (parked.stream, Start { heads, read })
            }
            Woken::Closed => return Some(Ok(())),
            Woken::Cut => return None,
        };
        since = tokio::time::Instant::now();
    }
}

/// The head guard over a connection the in-task server handed off (`timed_out`: its
/// head ran out of time there), parked into `parking`.
fn guarded<S>(
    (stream, start, clock): (S, Start, HeadClock),
    timed_out: bool,
    conn: &ClientConn,
    parking: Arc<Parking<S>>,
) -> HeadGuard<S> {
    let mut guard = HeadGuard::new(
        Parkable::new(stream, parking),
        start,
        conn.refusals.clone(),
        conn.upgrades.clone(),
        clock,
    );
    if timed_out {
        guard.refuse_timed_out();
    }
    guard
}

/// Counts a parked connection of `listener` as idle.
fn idle_count(source: &Source, listener: &str) -> IdleCount {
    let live = source.current();
    IdleCount::new(live.snapshot.listener(listener).map(|l| &l.series))
}

/// One hyper HTTP/1 connection on `guard`, until it ends or is parked; `None` when
/// `closing` cut it.
async fn http1_once<S>(
    guard: HeadGuard<S>,
    conn: Arc<ClientConn>,
    source: Source,
    responses: Arc<Responses>,
    draining: impl Future<Output = ()>,
    closing: impl Future<Output = ()>,
) -> Option<hyper::Result<()>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // `respond` counts the response in itself: awaiting its future from a wrapping
    // `async` block moved all 7 KiB of it once per request (rust-lang/rust#69826).
    let service = service_fn(move |r: Request<Incoming>| {
        let request = r.map(FromClient::hyper);
        let watched = Watched::Finished(responses.clone());
        respond(conn.clone(), source.clone(), request, watched).map(Ok::<_, Infallible>)
    });
    let conn = http1::Builder::new()
        // The guard keeps the head deadline: hyper's is per request and needs a timer.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(guard), service)
        .with_upgrades();
    drive(conn, draining, closing).await
}

/// A hyper server connection that can be asked to end gracefully (hyper-util's
/// `GracefulConnection` leaves out the upgradeable HTTP/1 connection).
pub(crate) trait Graceful: Future<Output = hyper::Result<()>> {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> Graceful for http1::UpgradeableConnection<I, S>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http1::UpgradeableConnection::graceful_shutdown(self);
    }
}

impl<I, S, B, E> Graceful for http2::Connection<I, S, E>
where
    S: HttpService<Incoming, ResBody = B>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    B: hyper::body::Body + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    E: hyper::rt::bounds::Http2ServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        http2::Connection::graceful_shutdown(self);
    }
}

/// Runs `conn` to its end; once `draining` resolves, shuts it down gracefully, and
/// once `closing` resolves after that, drops it (`None`).
pub(crate) async fn drive<C>(
    conn: C,
    draining: impl Future<Output = ()>,
    closing: impl Future<Output = ()>,
) -> Option<hyper::Result<()>>
where
    C: Graceful,
{
    tokio::pin!(conn, draining, closing);
    tokio::select! {
        result = conn.as_mut() => Some(result),
        () = &mut draining => {
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                result = conn.as_mut() => Some(result),
                () = &mut closing => None,
            }
        }
    }
}

/// The service's answer to one request on `conn`: its refusal when the head guard
/// refused it, else the proxied response; its body tells the connection what
/// `watched` asks (HTTP/1 through hyper: when hyper is done with it; HTTP/2: when
/// hyper holds it for the client's window).
pub(crate) async fn respond(
    conn: Arc<ClientConn>,
    source: Source,
    request: Request<FromClient>,
    watched: Watched,
) -> Response<ProxyBody> {
    // Load the live config first: `Control::apply` pins `retired` before it
    // publishes, so a request that sees the snapshot without this listener also
    // sees the pinned one.
    if let Some(requests) = &conn.requests {
        requests.stamp();
    }
    let current = source.live.load_full();
    let live = source.retired.get().cloned().unwrap_or(current);
    let response = match conn.refusals.next() {
        Some(refusal) => refusal::answer(&live, &conn, conn.addr, refusal),
        None => handle(live, &conn, request).await,
    };
    response.map(|body| body.watched(watched))
}
