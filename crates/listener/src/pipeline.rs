//! The per-connection pipeline: what happens to an accepted connection between
//! `accept` and the protocol that serves it. **This is the seam** where the coming
//! connection-level features go, in this order (each one wraps or inspects the
//! stream the step before produced):
//!
//! 1. socket options (`TCP_NODELAY`) and byte counting ([`Counted`]) — today;
//! 2. PROXY protocol v1/v2 in: read and strip the header, replace `peer` with the
//!    client it names (only from trusted senders) — next, from `transport`;
//! 3. TLS: peek the ClientHello's SNI; passthrough by SNI hands the raw stream to
//!    `tcp`, termination wraps it in a rustls stream (ALPN decides h1 or h2) — next,
//!    from `tls`;
//! 4. protocol dispatch ([`Protocol`]): HTTP/1 (today the only one) to
//!    [`sluicegate_http::serve`]; HTTP/2 by ALPN or the client preface, and plain L4
//!    forwarding for `tcp` listeners, later.
//!
//! Nothing here parses HTTP: that is the `http` crate's job.

use std::net::SocketAddr;
use std::sync::Arc;

use metrics::{Counter, Gauge};
use sluicegate_http::{Accepted, Source};
use sluicegate_runtime::Listener;
use tokio::net::TcpStream;

use crate::counted::Counted;
use crate::phase::{Phase, Phases};

/// The protocol an accepted connection is served with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/1.x, served by the `http` crate.
    Http1,
}

impl Protocol {
    /// The protocol of a connection accepted on `listener`. Every listener speaks
    /// HTTP/1 today; a listener's configured protocol, TLS ALPN and preface
    /// detection will decide here.
    pub(crate) fn of(_listener: Option<&Listener>) -> Self {
        Protocol::Http1
    }
}

/// Runs one accepted connection from `peer` on `listener` through the pipeline and
/// serves it with its protocol until it ends or `phases` says to stop. Requests read
/// their config from `source`.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    listener: Arc<str>,
    source: Source,
    phases: Phases,
) {
    let _ = stream.set_nodelay(true);
    let accepted = Accepted {
        listener: listener.clone(),
        peer,
        local: stream.local_addr().ok(),
    };
    // The config is read here and let go at the end of the block: a connection holds
    // no snapshot between its requests.
    let (stream, protocol) = {
        let pinned = source.retired.get().cloned();
        let live = pinned.unwrap_or_else(|| source.live.load_full());
        let config = live.snapshot.listener(&listener);
        let stream = match config {
            Some(l) => Counted::new(stream, l.series.bytes(), l.series.connection_opened()),
            None => Counted::new(stream, (Counter::noop(), Counter::noop()), Gauge::noop()),
        };
        (stream, Protocol::of(config))
    };
    match protocol {
        Protocol::Http1 => {
            let (mut draining, mut closing) = (phases.clone(), phases);
            let draining = async move { draining.reached(Phase::Draining).await };
            let closing = async move { closing.reached(Phase::Closing).await };
            sluicegate_http::serve(stream, accepted, source, draining, closing).await;
        }
    }
}
