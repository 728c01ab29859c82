//! The pipeline's layer-4 steps (see `pipeline.rs` for where each runs): the PROXY
//! header read off the front of a connection from a trusted sender, the ClientHello
//! read (not terminated) of a `tls_passthrough` listener for its server name, and
//! the hand-over of the stream, with every byte read ahead, to `sluicegate_tcp`.
//!
//! Each read is bounded by its own timeout (`proxy_protocol.timeout`,
//! `handshake_timeout`) and given up when the listener drains: a connection that
//! has not been handed to a backend yet holds nothing worth waiting for.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sluicegate_http::{Accepted, Source};
use sluicegate_metrics::{L4ListenerSeries, L4Refusal};
use sluicegate_tls::{HelloRead, HelloReader, MAX_CLIENT_HELLO};
use sluicegate_transport::{ProxyHeaderError, Rewound, read_proxy_header};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use crate::phase::{Phase, Phases};

/// A listener's PROXY protocol, as one connection needs it.
pub(crate) struct ProxyIn {
    /// Whether the peer may send a header (it is in `trusted`).
    pub(crate) trusted: bool,
    pub(crate) timeout: Duration,
    pub(crate) series: L4ListenerSeries,
}

/// Reads the PROXY header off `stream` and makes the client it names the
/// connection's peer (and the address it connected to its local address); `None`
/// when the peer is not trusted, the header is malformed or late, or the listener
/// drains: the connection is then closed (counted, and logged at debug).
pub(crate) async fn proxy_in<S: AsyncRead + Unpin>(
    mut stream: S,
    proxy: ProxyIn,
    accepted: &mut Accepted,
    phases: &mut Phases,
) -> Option<Rewound<S>> {
    let peer = accepted.peer;
    if !proxy.trusted {
        proxy.series.refused(L4Refusal::ProxyUntrusted);
        tracing::debug!(%peer, listener = %accepted.listener, "PROXY protocol from an untrusted peer: closed");
        return None;
    }
    let read = tokio::select! {
        read = tokio::time::timeout(proxy.timeout, read_proxy_header(&mut stream)) => read,
        () = phases.reached(Phase::Draining) => return None,
    };
    let header = match read {
        Ok(Ok(header)) => header,
        Ok(Err(error)) => {
            let why = match error {
                ProxyHeaderError::Closed | ProxyHeaderError::Io(_) => L4Refusal::ProxyTimeout,
                ProxyHeaderError::Invalid(_) | ProxyHeaderError::TooLong => L4Refusal::ProxyInvalid,
            };
            proxy.series.refused(why);
            tracing::debug!(%peer, listener = %accepted.listener, "{error}");
            return None;
        }
        Err(_) => {
            proxy.series.refused(L4Refusal::ProxyTimeout);
            tracing::debug!(%peer, listener = %accepted.listener, "no whole PROXY protocol header in time");
            return None;
        }
    };
    if let Some((source, destination)) = header.addresses {
        accepted.peer = source;
        accepted.local = Some(destination);
    }
    Some(Rewound::new(header.rest, stream))
}

/// Reads the ClientHello of a `tls_passthrough` connection (within `timeout`, at
/// most [`MAX_CLIENT_HELLO`] bytes), then forwards the connection by its server
/// name, the ClientHello's bytes first; `held` goes with the session.
pub(crate) async fn passthrough<S, H>(
    mut stream: S,
    (timeout, series): (Duration, L4ListenerSeries),
    accepted: Accepted,
    (source, mut phases, held): (Source, Phases, H),
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Send + 'static,
{
    let read = tokio::select! {
        read = tokio::time::timeout(timeout, client_hello(&mut stream)) => read,
        () = phases.reached(Phase::Draining) => return,
    };
    let (read, sni) = match read {
        Ok(Ok(hello)) => hello,
        Ok(Err(why)) => {
            series.refused(why);
            let peer = accepted.peer;
            tracing::debug!(%peer, listener = %accepted.listener, "passthrough closed: {}", why.label());
            return;
        }
        Err(_) => {
            series.refused(L4Refusal::ClientHelloTimeout);
            return;
        }
    };
    forward(stream, (read, sni), accepted, (source, phases, held)).await;
}

/// Reads from `stream` until its bytes are a whole ClientHello: every byte read, and
/// the server name.
async fn client_hello<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<(Bytes, Option<String>), L4Refusal> {
    let mut reader = HelloReader::new();
    let mut read = BytesMut::with_capacity(2048);
    loop {
        let before = read.len();
        if read.len() >= MAX_CLIENT_HELLO {
            return Err(L4Refusal::ClientHelloTooLarge);
        }
        read.reserve(2048.min(MAX_CLIENT_HELLO - read.len()));
        match stream.read_buf(&mut read).await {
            Ok(0) | Err(_) => return Err(L4Refusal::ClientHelloTimeout),
            Ok(_) => {}
        }
        match reader.feed(&read[before..]) {
            HelloRead::More => {}
            HelloRead::Done(sni) => return Ok((read.freeze(), sni)),
            HelloRead::Invalid(_) => return Err(L4Refusal::ClientHelloInvalid),
        }
    }
}

/// Hands `stream` to `sluicegate_tcp`, with `prefix` (the bytes read ahead) sent
/// first and `sni` to route by: the session, holding `held`, goes on in a task of
/// its own until it ends or the listener closes.
pub(crate) async fn forward<S, H>(
    stream: S,
    (prefix, sni): (Bytes, Option<String>),
    accepted: Accepted,
    (source, phases, held): (Source, Phases, H),
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Send + 'static,
{
    let snapshot = source.current().snapshot.clone();
    let unknown = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0));
    let session = sluicegate_tcp::Session {
        listener: accepted.listener,
        client: accepted.peer,
        local: accepted.local.unwrap_or(unknown),
        sni,
        prefix,
    };
    let mut closing = phases;
    let stop = async move { closing.reached(Phase::Closing).await };
    sluicegate_tcp::serve(stream, session, snapshot, stop, held).await;
}
