//! The series of layer-4 sessions (`tcp` and `tls_passthrough` listeners): a
//! listener's sessions by how they ended, refused before a backend was reached by
//! reason, how long they lasted, and a backend's sessions and bytes both ways. Open sessions are the
//! backend's in-flight gauge (`sluicegate_backend_in_flight`), and the client side's
//! connections and bytes are the listener's usual series, so neither is repeated here.

use std::sync::Arc;
use std::time::Duration;

use crate::LazyCounter;
use crate::names::{
    L4_REFUSED_TOTAL, L4_SESSION_DURATION_SECONDS, L4_SESSIONS_TOTAL,
    UPSTREAM_BYTES_RECEIVED_TOTAL, UPSTREAM_BYTES_SENT_TOTAL,
};
use crate::series::{histogram, key};
use metrics::Key;

/// Why a layer-4 connection was closed before it reached a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4Refusal {
    /// No route took the ClientHello's server name, and there is no default cluster.
    NoRoute,
    /// No backend of the cluster is eligible.
    NoBackend,
    /// Every backend tried refused or timed out the connection.
    ConnectFailed,
    /// What the client sent first is not a TLS ClientHello, or a malformed one.
    ClientHelloInvalid,
    /// The ClientHello is larger than a passthrough listener reads to find the name.
    ClientHelloTooLarge,
    /// The ClientHello did not come whole within `handshake_timeout`, or the client
    /// closed before.
    ClientHelloTimeout,
    /// A PROXY header from a peer outside `proxy_protocol.trusted`, or none from one
    /// inside.
    ProxyUntrusted,
    /// A malformed PROXY header.
    ProxyInvalid,
    /// The PROXY header did not come whole within `proxy_protocol.timeout`.
    ProxyTimeout,
}

impl L4Refusal {
    /// Every reason, in label order.
    pub const ALL: [L4Refusal; 9] = [
        L4Refusal::NoRoute,
        L4Refusal::NoBackend,
        L4Refusal::ConnectFailed,
        L4Refusal::ClientHelloInvalid,
        L4Refusal::ClientHelloTooLarge,
        L4Refusal::ClientHelloTimeout,
        L4Refusal::ProxyUntrusted,
        L4Refusal::ProxyInvalid,
        L4Refusal::ProxyTimeout,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            L4Refusal::NoRoute => "no_route",
            L4Refusal::NoBackend => "no_backend",
            L4Refusal::ConnectFailed => "connect_failed",
            L4Refusal::ClientHelloInvalid => "client_hello_invalid",
            L4Refusal::ClientHelloTooLarge => "client_hello_too_large",
            L4Refusal::ClientHelloTimeout => "client_hello_timeout",
            L4Refusal::ProxyUntrusted => "proxy_untrusted",
            L4Refusal::ProxyInvalid => "proxy_invalid",
            L4Refusal::ProxyTimeout => "proxy_timeout",
        }
    }
}

/// How a layer-4 session that reached a backend ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// Both sides closed.
    Closed,
    /// No byte either way for `idle_timeout`.
    IdleTimeout,
    /// A side reset, or a write failed.
    Error,
    /// The listener was removed or the process stopped, and its drain time ran out.
    Drained,
}

impl SessionEnd {
    const ALL: [SessionEnd; 4] = [
        SessionEnd::Closed,
        SessionEnd::IdleTimeout,
        SessionEnd::Error,
        SessionEnd::Drained,
    ];

    /// Its `end` label.
    pub fn label(self) -> &'static str {
        match self {
            SessionEnd::Closed => "closed",
            SessionEnd::IdleTimeout => "idle_timeout",
            SessionEnd::Error => "error",
            SessionEnd::Drained => "drained",
        }
    }
}

/// The layer-4 series of one listener, registered at their first count. Clones
/// share the series (a session keeps one, not the snapshot).
#[derive(Clone, Debug, Default)]
pub struct L4ListenerSeries {
    refused: [LazyCounter; 9],
    ended: [LazyCounter; 4],
    /// `sluicegate_l4_session_duration_seconds`'s key; `None` in the default
    /// (unlisted). Looked up at each sample rather than kept as a handle: a session
    /// outlives reloads, and a handle of an older config's series is not renewed
    /// after the scrapes that may drop it (see [`crate::HistogramCell`]), so its
    /// samples would go to a series no longer exported. One lookup a session.
    duration: Option<Arc<Key>>,
}

impl L4ListenerSeries {
    /// The series of listener `listener`.
    pub fn register(listener: &str) -> Self {
        Self {
            refused: L4Refusal::ALL.map(|r| {
                let labels = [("listener", listener), ("reason", r.label())];
                LazyCounter::new(key(L4_REFUSED_TOTAL, &labels))
            }),
            ended: SessionEnd::ALL.map(|e| {
                let labels = [("listener", listener), ("end", e.label())];
                LazyCounter::new(key(L4_SESSIONS_TOTAL, &labels))
            }),
            duration: Some(Arc::new(key(
                L4_SESSION_DURATION_SECONDS,
                &[("listener", listener)],
            ))),
        }
    }

    /// Counts a connection closed before it reached a backend.
    pub fn refused(&self, why: L4Refusal) {
        if let Some(i) = L4Refusal::ALL.iter().position(|r| *r == why) {
            self.refused[i].increment(1);
        }
    }

    /// Counts a session that ended, `lasted` after its backend connected.
    pub fn ended(&self, end: SessionEnd, lasted: Duration) {
        if let Some(i) = SessionEnd::ALL.iter().position(|e| *e == end) {
            self.ended[i].increment(1);
        }
        if let Some(duration) = &self.duration {
            histogram(duration).record(lasted.as_secs_f64());
        }
    }

    /// Keeps every registered series alive through the next scrape.
    pub fn touch(&self) {
        self.refused
            .iter()
            .chain(&self.ended)
            .for_each(LazyCounter::touch);
    }
}

/// One backend's bytes of layer-4 sessions, registered at their first count. Clones
/// share the series.
#[derive(Clone, Debug, Default)]
pub struct UpstreamBytes {
    sent: LazyCounter,
    received: LazyCounter,
}

impl UpstreamBytes {
    /// The series of backend `backend` of `cluster`.
    pub fn register(cluster: &str, backend: &str) -> Self {
        let labels = [("cluster", cluster), ("backend", backend)];
        Self {
            sent: LazyCounter::new(key(UPSTREAM_BYTES_SENT_TOTAL, &labels)),
            received: LazyCounter::new(key(UPSTREAM_BYTES_RECEIVED_TOTAL, &labels)),
        }
    }

    /// Counts `sent` bytes written to the backend and `received` read from it.
    pub fn count(&self, sent: u64, received: u64) {
        if sent > 0 {
            self.sent.increment(sent);
        }
        if received > 0 {
            self.received.increment(received);
        }
    }

    /// Keeps both series alive through the next scrape.
    pub fn touch(&self) {
        self.sent.touch();
        self.received.touch();
    }
}
