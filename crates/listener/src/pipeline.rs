//! The per-connection pipeline: what happens to an accepted connection between
//! `accept` and the protocol that serves it. **This is the seam** where the
//! connection-level features go, in this order (each one wraps or inspects the
//! stream the step before produced):
//!
//! 1. socket options (`TCP_NODELAY`) and byte counting ([`Counted`]);
//! 2. PROXY protocol v1/v2 in, on a listener with `proxy_protocol` (`layer4.rs`):
//!    a peer outside `trusted` is closed; from a trusted one the header is read and
//!    stripped, and the client it names replaces `peer` (for balancing, forwarding
//!    headers, logs); what followed it is read again first (`Rewound`);
//! 3. a `tcp` listener without `tls:` goes to `sluicegate_tcp` at once, before any
//!    client byte (the backend may speak first); any other waits for the first
//!    bytes;
//! 4. a `tls_passthrough` listener reads the ClientHello (not terminated) for its
//!    server name (`layer4.rs`) and hands the stream, ClientHello included, to
//!    `sluicegate_tcp`;
//! 5. TLS termination on a listener with `tls:` (`sluicegate_tls::ServerTls`: the
//!    certificate chosen by SNI, the handshake bounded by its timeout, here in the
//!    connection's own task, never in the accept loop); a `tcp` listener then
//!    forwards the plaintext, an `http` one lets ALPN decide h2 or HTTP/1;
//! 6. protocol dispatch ([`Protocol`]): HTTP/2 by ALPN or, without ALPN, by the
//!    client's preface (prior knowledge, `sniff.rs`), else HTTP/1, both served by
//!    [`sluicegate_http::serve`].
//!
//! Steps that read from the client before a protocol serves it are bounded by the
//! listener's `header_read_timeout` (the TLS handshake by its own timeout; the HTTP/1
//! head guard's first deadline runs from the accept, so the sniff does not lengthen
//! it) and end at once when the listener drains: a connection that
//! sent nothing yet holds no request.
//!
//! Nothing here parses HTTP: that is the `http` crate's job.

use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use bytes::Bytes;
use metrics::{Counter, Gauge};
use sluicegate_core::Protocol as CoreProtocol;
use sluicegate_http::{Accepted, ClientTimeouts, HttpVersion, Source};
use sluicegate_metrics::L4ListenerSeries;
use sluicegate_runtime::ListenerTls;
use sluicegate_tls::{Alpn, Handshake};
use sluicegate_transport::{LazyQuiet, Quiet};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::counted::Counted;
use crate::layer4;
use crate::phase::{Phase, Phases};
use crate::send_timeout::{SendClock, UNLISTED_SEND_TIMEOUT};
use crate::sniff::sniff_h2;

/// The protocol an accepted connection is served with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/1.x or HTTP/2, served by the `http` crate.
    Http(HttpVersion),
}

/// Runs one connection `stream` accepted from `peer` on `listener` through the
/// pipeline and serves it with its protocol until it ends or `phases` says to stop;
/// `held` (what counts it as open) is let go after that, or goes with a layer-4
/// session into the task it continues in. Requests read their config
/// from `source`. Spawned as it is: a wrapping `async` block would copy all of it once
/// more per connection.
pub(crate) async fn serve<H: Send + 'static>(
    (stream, peer, listener): (TcpStream, SocketAddr, Arc<str>),
    source: Source,
    mut phases: Phases,
    held: H,
) {
    let accepted_at = tokio::time::Instant::now();
    let _ = stream.set_nodelay(true);
    let local = stream.local_addr().ok();
    let Opened {
        stream,
        tls,
        timeouts,
        kind,
        proxy,
    } = opened(stream, peer, &listener, &source);
    let mut accepted = Accepted {
        listener,
        peer,
        local,
        secure: tls.is_some(),
        version: HttpVersion::Http1,
        timeouts,
        accepted_at,
    };
    if let Some(proxy) = proxy {
        // Boxed, as the TLS path below: only listeners that take PROXY headers carry
        // the header read's state and the rewound stream.
        let proxied = Box::pin(layer4::proxy_in(stream, proxy, &mut accepted, &mut phases)).await;
        if let Some(stream) = proxied {
            Box::pin(next(stream, (tls, kind), accepted, (source, phases), held)).await;
        }
        return;
    }
    // A plain tcp listener connects upstream at once: the backend may speak first
    // (SMTP, MySQL banners).
    let speaks_first = matches!(kind, Kind::Tcp) && tls.is_none();
    if !speaks_first && !first_bytes(stream.get_ref(), &accepted, &mut phases).await {
        return;
    }
    next(stream, (tls, kind), accepted, (source, phases), held).await;
}

/// What a listener serves, as one connection needs it.
enum Kind {
    /// HTTP/1 or HTTP/2.
    Http,
    /// Bytes to one cluster; with `tls:`, after terminating TLS.
    Tcp,
    /// TLS untouched, by the ClientHello's server name: its timeout and the series
    /// refusals are counted in.
    Passthrough(Duration, L4ListenerSeries),
}

/// Serves `stream` (its PROXY header, if any, read) with its listener's `kind`,
/// after terminating `tls` if there is one; `held` until it ends.
async fn next<S, H>(
    stream: S,
    (tls, kind): (Option<Arc<ListenerTls>>, Kind),
    accepted: Accepted,
    (source, phases): (Source, Phases),
    held: H,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Send + 'static,
{
    // The TLS path (handshake, then HTTP over the TLS stream) is boxed: inline, its
    // state would make every plain connection's task as large as a TLS one's
    // (measured: 15.8 KiB per connection before the boxes here and in `serve`).
    // So are the layer-4 paths, for the same reason.
    match (kind, tls) {
        (Kind::Passthrough(timeout, series), _) => {
            let hello = (timeout, series);
            let open = (source, phases, held);
            Box::pin(layer4::passthrough(stream, hello, accepted, open)).await;
        }
        (kind, Some(tls)) => {
            let tcp = matches!(kind, Kind::Tcp);
            Box::pin(terminate(
                stream,
                &tls,
                tcp,
                accepted,
                (source, phases, held),
            ))
            .await;
        }
        (Kind::Tcp, None) => {
            let read = (Bytes::new(), None);
            Box::pin(layer4::forward(
                stream,
                read,
                accepted,
                (source, phases, held),
            ))
            .await;
        }
        (Kind::Http, None) => {
            by_preface(stream, accepted, source, phases).await;
            drop(held);
        }
    }
}

/// Waits until `stream` has bytes to read: `false` when the client sent none within
/// its first head's deadline, closed, or the listener drains and it sent none within
/// `DRAIN_GRACE` of its accept (a request on its way as the drain starts is
/// answered: see `sluicegate_http`'s head clock), so the connection is closed
/// quietly. Nothing is allocated for a connection until then: a
/// connection that never sends costs its task and socket only (measured with 4,000
/// silent connections: 14.6 KiB each before, when the protocol sniff's buffer and
/// hyper's state waited for the first byte). A peek rather than `readable()`: tokio
/// takes a new socket as readable until a read says otherwise.
async fn first_bytes(stream: &TcpStream, accepted: &Accepted, phases: &mut Phases) -> bool {
    let deadline = accepted.accepted_at + accepted.timeouts.header_read;
    let mut first = [0u8; 1];
    // Biased, the read first: a client whose bytes are already here is never made to
    // register (and remove) the drain's two watch waiters.
    let peeked = tokio::select! {
        biased;
        peeked = tokio::time::timeout_at(deadline, stream.peek(&mut first)) => peeked,
        () = phases.reached(Phase::Draining) => {
            let grace = deadline.min(accepted.accepted_at + sluicegate_http::DRAIN_GRACE);
            tokio::time::timeout_at(grace, stream.peek(&mut first)).await
        }
    };
    matches!(peeked, Ok(Ok(n)) if n > 0)
}

/// An accepted stream, counted, with what the connection needs of its listener's
/// config.
struct Opened {
    stream: Counted<TcpStream>,
    tls: Option<Arc<ListenerTls>>,
    timeouts: ClientTimeouts,
    kind: Kind,
    proxy: Option<layer4::ProxyIn>,
}

/// `stream` from `peer`, counted in its listener's series, with what the connection
/// needs of the listener's config: its TLS termination, client timeouts, what it
/// serves and its PROXY protocol. The config is read here and let go: a connection
/// holds no snapshot between its requests.
fn opened(stream: TcpStream, peer: SocketAddr, listener: &str, source: &Source) -> Opened {
    let live = source.current();
    let Some(l) = live.snapshot.listener(listener) else {
        return Opened {
            stream: Counted::new(
                stream,
                (Counter::noop(), Counter::noop()),
                Gauge::noop(),
                SendClock::new(UNLISTED_SEND_TIMEOUT, Counter::noop()),
            ),
            tls: None,
            timeouts: ClientTimeouts::default(),
            kind: Kind::Http,
            proxy: None,
        };
    };
    let kind = match (l.protocol, &l.l4) {
        (CoreProtocol::TlsPassthrough, Some(l4)) => {
            Kind::Passthrough(l4.handshake_timeout, l4.series.clone())
        }
        (CoreProtocol::Tcp, _) => Kind::Tcp,
        _ => Kind::Http,
    };
    let proxy = l.proxy_protocol.as_ref().map(|p| layer4::ProxyIn {
        trusted: p.trusted.contains(peer.ip()),
        timeout: p.timeout,
        series: p.series.clone(),
    });
    Opened {
        stream: Counted::new(
            stream,
            l.series.bytes(),
            l.series.connection_opened(),
            SendClock::new(l.send_timeout, l.series.send_timeouts()),
        ),
        tls: l.tls.clone(),
        timeouts: ClientTimeouts {
            keepalive: l.keepalive_timeout,
            header_read: l.header_read_timeout,
            request_body: l.request_body_timeout,
            send: l.send_timeout,
        },
        kind,
        proxy,
    }
}

/// Completes the TLS handshake on `stream` (bounded by the listener's handshake
/// timeout, given up when the listener drains), then serves the protocol ALPN chose
/// (`tcp`: forwards the plaintext), `held` until it ends.
async fn terminate<S, H>(
    stream: S,
    tls: &ListenerTls,
    tcp: bool,
    accepted: Accepted,
    (source, mut phases, held): (Source, Phases, H),
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Send + 'static,
{
    // Boxed, the handshake and then the stream: the handshake's state is let go once
    // it is done, and the stream (rustls's connection inline is ~3.4 KiB) moves by
    // pointer into the futures that serve it, so they stay the size of a cleartext
    // connection's. Inline, the three held it whole for the connection's life.
    let handshake = tokio::select! {
        handshake = Box::pin(tls.server.accept(stream, tls.handshake_timeout)) => handshake,
        () = phases.reached(Phase::Draining) => return,
    };
    let Handshake { stream, alpn, .. } = match handshake {
        Ok(handshake) => handshake,
        Err(error) => {
            let peer = accepted.peer;
            tracing::debug!(%peer, listener = %accepted.listener, "{error}");
            return;
        }
    };
    let stream = Box::new(stream);
    if tcp {
        let open = (source, phases, held);
        return layer4::forward(stream, (Bytes::new(), None), accepted, open).await;
    }
    let version = match alpn {
        Alpn::H2 => HttpVersion::Http2,
        Alpn::Http1 => HttpVersion::Http1,
        Alpn::None => return by_preface(stream, accepted, source, phases).await,
    };
    dispatch(stream, Protocol::Http(version), accepted, source, phases).await;
    drop(held);
}

/// Serves `stream` as HTTP/2 when it starts with the client preface, else as HTTP/1.
async fn by_preface<S>(stream: S, accepted: Accepted, source: Source, mut phases: Phases)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Biased, the read first, as in `first_bytes`: the bytes peeked are there.
    let sniffed = tokio::select! {
        biased;
        sniffed = tokio::time::timeout_at(
            accepted.accepted_at + accepted.timeouts.header_read,
            sniff_h2(stream),
        ) => sniffed,
        () = phases.reached(Phase::Draining) => return,
    };
    let Ok(Ok((stream, h2))) = sniffed else {
        return;
    };
    let version = if h2 {
        HttpVersion::Http2
    } else {
        HttpVersion::Http1
    };
    dispatch(stream, Protocol::Http(version), accepted, source, phases).await;
}

/// Serves `stream` with `protocol` until it ends or `phases` says to stop.
async fn dispatch<S>(
    stream: S,
    protocol: Protocol,
    accepted: Accepted,
    source: Source,
    phases: Phases,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match protocol {
        Protocol::Http(version) => {
            let (mut draining, mut closing) = (phases.clone(), phases);
            let draining = Quiet::new(async move { draining.reached(Phase::Draining).await });
            let closing =
                LazyQuiet::new(move || async move { closing.reached(Phase::Closing).await });
            let accepted = Accepted {
                version,
                ..accepted
            };
            // Boxed: a connection's task stays as small as its wait for its first
            // bytes, and only connections that sent some carry hyper's state.
            Box::pin(sluicegate_http::serve(
                stream, accepted, source, draining, closing,
            ))
            .await;
        }
    }
}
