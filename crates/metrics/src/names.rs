//! Every metric name, in one place. Names are part of the user interface: renaming
//! one breaks dashboards and alerts.

/// Requests answered, by listener, cluster, backend and status class.
pub const REQUESTS_TOTAL: &str = "sluicegate_requests_total";
/// Time from request head received to response body sent, by listener and cluster.
pub const REQUEST_DURATION_SECONDS: &str = "sluicegate_request_duration_seconds";
/// Time from request sent to a backend to its response head, by cluster and backend.
pub const BACKEND_RESPONSE_SECONDS: &str = "sluicegate_backend_response_seconds";
/// Requests in flight on a backend.
pub const BACKEND_IN_FLIGHT: &str = "sluicegate_backend_in_flight";
/// 1 when a backend may be picked (not down, drained, unhealthy or ejected), else 0.
pub const BACKEND_UP: &str = "sluicegate_backend_up";
/// Failed connection attempts to a backend, by reason.
pub const UPSTREAM_CONNECT_ERRORS_TOTAL: &str = "sluicegate_upstream_connect_errors_total";
/// Requests that met a backend at its `max_connections`: waited (`queued`), or were
/// refused (`queue_full`, `queue_timeout`), by cluster, backend and kind.
pub const UPSTREAM_OVERFLOW_TOTAL: &str = "sluicegate_upstream_overflow_total";
/// Requests sent again on a fresh connection after a reused one closed under them.
pub const UPSTREAM_STALE_RETRIES_TOTAL: &str = "sluicegate_upstream_stale_retries_total";
/// Requests the HTTP parser refused before routing, by listener and reason.
pub const REJECTED_REQUESTS_TOTAL: &str = "sluicegate_rejected_requests_total";
/// Requests the proxy answered itself with an error, by listener and kind.
pub const ERRORS_TOTAL: &str = "sluicegate_errors_total";
/// Client connections open now, by listener.
pub const DOWNSTREAM_CONNECTIONS_ACTIVE: &str = "sluicegate_downstream_connections_active";
/// HTTP/1 client connections idle between requests and parked (holding no buffers),
/// by listener.
pub const DOWNSTREAM_CONNECTIONS_IDLE: &str = "sluicegate_downstream_connections_idle";
/// Client connections accepted, by listener.
pub const DOWNSTREAM_CONNECTIONS_TOTAL: &str = "sluicegate_downstream_connections_total";
/// Client connections closed at accept because a connection limit was reached, by
/// listener and reason.
pub const DOWNSTREAM_CONNECTIONS_REFUSED_TOTAL: &str =
    "sluicegate_downstream_connections_refused_total";
/// Response bodies from a backend that failed after their head (the client's response
/// cut short), by cluster, backend and reason (timeout, closed, invalid).
pub const UPSTREAM_BODY_ERRORS_TOTAL: &str = "sluicegate_upstream_body_errors_total";
/// Client connections closed because a write to the client waited past the
/// listener's `send_timeout` (the client stopped reading), by listener.
pub const DOWNSTREAM_SEND_TIMEOUTS_TOTAL: &str = "sluicegate_downstream_send_timeouts_total";
/// Failed `accept` calls (out of file descriptors, memory, buffers), by listener.
pub const ACCEPT_ERRORS_TOTAL: &str = "sluicegate_accept_errors_total";
/// Requests refused by a route's rate limit (429), by listener and route (its index).
pub const RATE_LIMITED_TOTAL: &str = "sluicegate_rate_limited_total";
/// Upgraded connections (WebSocket …) tunnelled now, by listener.
pub const TUNNELS_ACTIVE: &str = "sluicegate_tunnels_active";
/// Upgraded connections opened (a backend's `101` passed to the client), by listener.
pub const TUNNELS_TOTAL: &str = "sluicegate_tunnels_total";
/// Bytes read from clients, by listener.
pub const BYTES_RECEIVED_TOTAL: &str = "sluicegate_bytes_received_total";
/// Bytes written to clients, by listener.
pub const BYTES_SENT_TOTAL: &str = "sluicegate_bytes_sent_total";
/// Layer-4 connections closed before they reached a backend, by listener and reason.
pub const L4_REFUSED_TOTAL: &str = "sluicegate_l4_refused_total";
/// Layer-4 sessions that reached a backend, by listener and how they ended.
pub const L4_SESSIONS_TOTAL: &str = "sluicegate_l4_sessions_total";
/// Seconds from a layer-4 session's backend connected to its end, by listener.
pub const L4_SESSION_DURATION_SECONDS: &str = "sluicegate_l4_session_duration_seconds";
/// Bytes of layer-4 sessions written to a backend, by cluster and backend.
pub const UPSTREAM_BYTES_SENT_TOTAL: &str = "sluicegate_upstream_bytes_sent_total";
/// Bytes of layer-4 sessions read from a backend, by cluster and backend.
pub const UPSTREAM_BYTES_RECEIVED_TOTAL: &str = "sluicegate_upstream_bytes_received_total";
/// Config reloads, by result.
pub const CONFIG_RELOADS_TOTAL: &str = "sluicegate_config_reloads_total";
/// Generation of the config being served.
pub const CONFIG_GENERATION: &str = "sluicegate_config_generation";
/// Unix time of the last config load or reload that was applied.
pub const CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS: &str =
    "sluicegate_config_last_reload_success_timestamp_seconds";
/// 1 when the last reload attempt was applied (or none was made yet), 0 when it was
/// rejected and an older config still serves.
pub const CONFIG_LAST_RELOAD_SUCCESSFUL: &str = "sluicegate_config_last_reload_successful";
/// Answers of a cluster's discovery source, by cluster and result (applied,
/// unchanged, empty, failed, rejected).
pub const DISCOVERY_UPDATES_TOTAL: &str = "sluicegate_discovery_updates_total";
/// Backends a discovered cluster serves from its source's last good answer.
pub const DISCOVERY_BACKENDS: &str = "sluicegate_discovery_backends";
/// Unix time of a discovered cluster's last good answer (applied or unchanged).
pub const DISCOVERY_LAST_SUCCESS_TIMESTAMP_SECONDS: &str =
    "sluicegate_discovery_last_success_timestamp_seconds";
/// Always 1; its `version` label says which build runs.
pub const BUILD_INFO: &str = "sluicegate_build_info";

/// Active health checks run, by cluster, backend and result (pass, fail).
pub const HEALTH_CHECKS_TOTAL: &str = "sluicegate_health_checks_total";
/// Times a backend went in or out of rotation through health (checks, ejection), by
/// cluster, backend and the state entered (healthy, unhealthy).
pub const BACKEND_STATE_CHANGES_TOTAL: &str = "sluicegate_backend_state_changes_total";
/// Outlier ejections, by cluster and backend.
pub const OUTLIER_EJECTIONS_TOTAL: &str = "sluicegate_outlier_ejections_total";
/// Retries sent, by cluster and the reason of the failed try.
pub const RETRIES_TOTAL: &str = "sluicegate_retries_total";
/// Retries not sent because the cluster's retry budget was spent, by cluster.
pub const RETRY_BUDGET_EXHAUSTED_TOTAL: &str = "sluicegate_retry_budget_exhausted_total";

/// Unix time of a listener's certificate's notAfter, by listener and certificate file.
pub const TLS_CERTIFICATE_EXPIRY_SECONDS: &str = "sluicegate_tls_certificate_expiry_seconds";
/// Certificate pairs re-read after a change on disk, by listener and result (ok, error).
pub const TLS_CERTIFICATE_RELOADS_TOTAL: &str = "sluicegate_tls_certificate_reloads_total";
/// TLS handshakes with clients that did not complete, by listener and reason
/// (timeout, error).
pub const TLS_HANDSHAKE_ERRORS_TOTAL: &str = "sluicegate_tls_handshake_errors_total";

/// Every histogram, for the exporter's bucket configuration.
pub const HISTOGRAMS: [&str; 3] = [
    REQUEST_DURATION_SECONDS,
    BACKEND_RESPONSE_SECONDS,
    L4_SESSION_DURATION_SECONDS,
];

/// Bucket bounds of every histogram, in seconds: from a loopback hop (250 µs) to a
/// slow API (30 s).
pub const SECONDS_BUCKETS: [f64; 16] = [
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0,
];

/// Bucket bounds of [`L4_SESSION_DURATION_SECONDS`]: from a health probe's connect
/// and close (10 ms) to a pooled database connection kept for a day. The request
/// buckets stop at 30 s, where most layer-4 sessions have barely begun.
pub const SESSION_SECONDS_BUCKETS: [f64; 11] = [
    0.01, 0.1, 1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 43200.0, 86400.0,
];
