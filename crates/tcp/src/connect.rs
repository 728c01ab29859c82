//! Reaching a backend for one session: the cluster's policy picks (the hashing
//! policies hash the client's address), and a backend that refuses, times out or
//! is at its `max_connections` is left for the next one the policy picks. Nothing
//! was sent yet, so trying another is always safe (HAProxy's `redispatch`, Envoy's
//! `max_connect_attempts`); every eligible backend gets one attempt.

use std::net::SocketAddr;

use sluicegate_core::PickKey;
use sluicegate_metrics::UpstreamBytes;
use sluicegate_runtime::{Cluster, HashKey, InFlightGuard, hash_ip};
use sluicegate_upstream::{Connector, UpstreamStream};

/// A connected backend: the stream, its in-flight count (held for the session's
/// life) and its byte counters.
pub(crate) struct Connected {
    pub(crate) stream: UpstreamStream,
    pub(crate) held: InFlightGuard,
    pub(crate) bytes: UpstreamBytes,
    pub(crate) backend: SocketAddr,
}

/// Why no backend was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unreached {
    /// None was eligible (or every one was at its connection limit).
    NoBackend,
    /// Every one tried failed to connect.
    ConnectFailed,
}

/// Connects to a backend of `cluster` for the client at `client` (its address and
/// the address it connected to, for the PROXY header).
pub(crate) async fn connect(
    cluster: &Cluster,
    client: (SocketAddr, SocketAddr),
) -> Result<Connected, Unreached> {
    let ip = client.0.ip();
    let key = PickKey {
        client_ip: Some(ip),
        affinity: matches!(cluster.hash_key, Some(HashKey::SourceIp)).then(|| hash_ip(ip)),
    };
    let mut tried: Vec<usize> = Vec::new();
    let mut failed = false;
    while let Some((i, backend)) = cluster.pick_untried(&key, &tried) {
        tried.push(i);
        if cluster
            .max_connections
            .is_some_and(|max| backend.in_flight() >= u64::from(max))
        {
            continue;
        }
        let held = backend.start_request();
        let connector = Connector::for_backend(backend, cluster);
        match connector.connect_for(client).await {
            Ok(stream) => {
                cluster.record_outcome(backend, false);
                return Ok(Connected {
                    stream,
                    held,
                    bytes: backend.series.upstream_bytes().clone(),
                    backend: backend.address(),
                });
            }
            Err(error) => {
                failed = true;
                if let Some(reason) = error.connect_reason() {
                    backend.series.connect_error(reason);
                }
                tracing::debug!(backend = %backend.key, "layer-4 connect failed: {error}");
                cluster.record_outcome(backend, true);
                cluster.record_unreachable(backend, &error.to_string());
            }
        }
    }
    Err(if failed {
        Unreached::ConnectFailed
    } else {
        Unreached::NoBackend
    })
}
