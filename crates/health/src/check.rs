//! What an active check does and how often: the health crate's own parameter types
//! (the runtime maps the config's `HealthCheckSpec` and the cluster's protocol into
//! them). How the connection is layered (TLS or not) is the backend's
//! [`Transport`](crate::Transport), given beside the check.

use std::time::Duration;

/// Active-check parameters of one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What one check does.
    pub probe: Probe,
    /// Time between checks.
    pub interval: Duration,
    /// Time one check may take.
    pub timeout: Duration,
    /// Consecutive passes that turn a backend healthy.
    pub rise: u32,
    /// Consecutive failures that turn a backend unhealthy.
    pub fall: u32,
    /// Each wait is drawn from `interval ± jitter_percent%`.
    pub jitter_percent: u8,
}

/// One check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// Connect (and, over TLS, complete the handshake), then close.
    Tcp,
    /// One request on a fresh connection.
    Http(HttpProbe),
}

/// An HTTP check request and the statuses that pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpProbe {
    /// Request path.
    pub path: String,
    /// Request method.
    pub method: http::Method,
    /// `Host` header; the backend's address when `None`.
    pub host: Option<String>,
    /// Inclusive status ranges that pass.
    pub expect: Vec<(u16, u16)>,
    /// Whether the request goes as HTTP/2 (prior knowledge in cleartext, ALPN `h2`
    /// over TLS), as to a cluster whose backends speak only that; else HTTP/1.1.
    pub h2: bool,
}

impl HttpProbe {
    /// Whether `status` passes.
    pub fn expects(&self, status: u16) -> bool {
        self.expect
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}
