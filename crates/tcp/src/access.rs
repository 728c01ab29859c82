//! The access log of layer-4 sessions: with `access_log: true`, one line per
//! session at target `access`, as nginx's `stream` access log and HAProxy's `tcplog`
//! write one: when it ends, or when it is closed before a backend is reached (then
//! `end` is the refusal's reason and `backend` is absent). The fields are the HTTP
//! access log's where they mean the same (`client`, `listener`, `cluster`,
//! `backend`, `duration_ms`; see the README).
//!
//! Kept boxed in a session only when the log is on: an idle session without it
//! carries one pointer's worth.

use std::net::SocketAddr;
use std::sync::Arc;

use sluicegate_core::ClusterName;
use tokio::time::Instant;

/// What a session's log line names besides its counts.
#[derive(Debug)]
pub(crate) struct AccessLine {
    /// When the listener handed the session over.
    pub(crate) started: Instant,
    pub(crate) listener: Arc<str>,
    pub(crate) client: SocketAddr,
    pub(crate) sni: Option<String>,
    pub(crate) cluster: Option<ClusterName>,
}

impl AccessLine {
    /// Writes the line of a session that ended as `end` (a `SessionEnd` or
    /// `L4Refusal` label), with `backend` if it reached one and the bytes it moved
    /// to the backend and to the client.
    pub(crate) fn write(
        &self,
        end: &str,
        backend: Option<SocketAddr>,
        (to_backend, to_client): (u64, u64),
    ) {
        tracing::info!(
            target: "access",
            client = %self.client,
            listener = &*self.listener,
            sni = self.sni.as_deref().unwrap_or(""),
            cluster = self.cluster.as_ref().map(ClusterName::as_str),
            backend = backend.map(tracing::field::display),
            end,
            bytes_to_backend = to_backend,
            bytes_to_client = to_client,
            duration_ms = (self.started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
        );
    }
}
