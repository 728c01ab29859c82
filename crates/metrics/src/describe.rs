//! HELP lines for every metric.

use metrics::{describe_counter, describe_gauge, describe_histogram};

use crate::names::*;

/// Registers the description of every metric with the installed recorder. Call it
/// once, after installing the recorder.
pub fn describe() {
    // Over 40 lines on purpose: one flat list of descriptions, one per metric, reads
    // and diffs best whole; split, a metric's HELP text would be harder to find.
    describe_counter!(
        REQUESTS_TOTAL,
        "Requests answered, by listener, cluster, backend and status class (code=\"2xx\"…). \
         Requests the proxy answered itself have no backend label, or no cluster label when no route matched."
    );
    describe_histogram!(
        REQUEST_DURATION_SECONDS,
        "Seconds from the request head received to the last byte of the response sent, by listener and cluster."
    );
    describe_histogram!(
        BACKEND_RESPONSE_SECONDS,
        "Seconds from the request sent to a backend to its response head received, by cluster and backend."
    );
    describe_counter!(
        UPSTREAM_CONNECT_ERRORS_TOTAL,
        "Failed connection attempts to a backend, by reason (refused, timeout, reset, tls, other)."
    );
    describe_counter!(
        L4_REFUSED_TOTAL,
        "Layer-4 connections closed before reaching a backend, by listener and reason: no_route, \
         no_backend, connect_failed, client_hello_invalid, client_hello_too_large, \
         client_hello_timeout, proxy_untrusted, proxy_invalid, proxy_timeout."
    );
    describe_counter!(
        L4_SESSIONS_TOTAL,
        "Layer-4 sessions that reached a backend, by listener and how they ended: closed, \
         idle_timeout, error, drained."
    );
    describe_histogram!(
        L4_SESSION_DURATION_SECONDS,
        "Seconds from a layer-4 session's backend connected to the session's end, by listener."
    );
    describe_counter!(
        UPSTREAM_BYTES_SENT_TOTAL,
        "Bytes of layer-4 sessions written to a backend, by cluster and backend."
    );
    describe_counter!(
        UPSTREAM_BYTES_RECEIVED_TOTAL,
        "Bytes of layer-4 sessions read from a backend, by cluster and backend."
    );
    describe_counter!(
        UPSTREAM_BODY_ERRORS_TOTAL,
        "Response bodies from a backend that failed after their head was passed on, so the \
         client's response was cut short, by cluster, backend and reason: timeout (nothing for \
         response_body_timeout), closed (the backend closed or reset mid-body), invalid (bad \
         framing)."
    );
    describe_counter!(
        UPSTREAM_OVERFLOW_TOTAL,
        "Requests that met a backend at its max_connections, by cluster, backend and kind: \
         queued (waited for a connection), queue_full (max_pending already waiting: 503), \
         queue_timeout (waited the whole queue_timeout: 503)."
    );
    describe_counter!(
        UPSTREAM_STALE_RETRIES_TOTAL,
        "Idempotent requests sent again on a fresh connection after a reused keep-alive \
         connection closed under them before any answer (the backend's idle close), by backend."
    );
    describe_counter!(
        HEALTH_CHECKS_TOTAL,
        "Active health checks run, by cluster, backend and result (pass, fail)."
    );
    describe_counter!(
        BACKEND_STATE_CHANGES_TOTAL,
        "Health transitions of a backend (active checks, outlier ejection and readmission), \
         by cluster, backend and the state entered (healthy, unhealthy)."
    );
    describe_counter!(
        OUTLIER_EJECTIONS_TOTAL,
        "Backends ejected after consecutive failures (passive checks), by cluster and backend."
    );
    describe_counter!(
        RETRIES_TOTAL,
        "Requests sent again after a failed try, by cluster and reason \
         (connect_failure, reset, timeout, status)."
    );
    describe_counter!(
        RETRY_BUDGET_EXHAUSTED_TOTAL,
        "Retries not sent because the cluster's retry budget was spent, by cluster."
    );
    describe_counter!(
        REJECTED_REQUESTS_TOTAL,
        "Requests the HTTP parser refused before they could be routed, by listener and reason \
         (malformed, framing, head_too_large, uri_too_long, head_timeout); also counted in \
         sluicegate_requests_total and sluicegate_errors_total{kind=\"bad_request\"}."
    );
    describe_counter!(
        ERRORS_TOTAL,
        "Requests answered by the proxy with an error, by listener and kind \
         (no_route, no_backend, bad_gateway, timeout, bad_request, overloaded, rate_limited, \
         client_closed: the client went away before its request body ended, logged 499)."
    );
    describe_gauge!(
        DOWNSTREAM_CONNECTIONS_ACTIVE,
        "Client connections open now, by listener."
    );
    describe_gauge!(
        DOWNSTREAM_CONNECTIONS_IDLE,
        "HTTP/1 client connections idle between requests for a second or more and \
         parked (holding no buffers), by listener: nginx's stub_status Waiting."
    );
    describe_counter!(
        DOWNSTREAM_CONNECTIONS_TOTAL,
        "Client connections accepted, by listener."
    );
    describe_counter!(
        DOWNSTREAM_SEND_TIMEOUTS_TOTAL,
        "Client connections closed because a write to the client waited longer than the \
         listener's send_timeout (the client stopped reading; its response was cut), or an \
         HTTP/2 response waited that long for the client's flow-control window, by listener."
    );
    describe_counter!(
        DOWNSTREAM_CONNECTIONS_REFUSED_TOTAL,
        "Client connections closed at accept, before any byte was read, because the listener's \
         or the process's max_connections was reached or the client's address passed the \
         listener's connection_rate_limit, by listener and reason (listener_limit, \
         process_limit, source_rate)."
    );
    describe_counter!(
        RATE_LIMITED_TOTAL,
        "Requests refused with 429 by a route's rate_limit, by listener and route (its index in \
         the listener's routes)."
    );
    describe_counter!(
        ACCEPT_ERRORS_TOTAL,
        "Failed accept calls (out of file descriptors, memory or buffers), by listener; the \
         listener backs off and retries."
    );
    describe_gauge!(
        TUNNELS_ACTIVE,
        "Upgraded connections (WebSocket and other Upgrade protocols) tunnelled between a client \
         and a backend now, by listener."
    );
    describe_counter!(
        TUNNELS_TOTAL,
        "Upgraded connections opened (a backend's 101 Switching Protocols passed to the client), \
         by listener."
    );
    describe_counter!(
        BYTES_RECEIVED_TOTAL,
        "Bytes read from clients (heads and bodies), by listener."
    );
    describe_counter!(
        BYTES_SENT_TOTAL,
        "Bytes written to clients (heads and bodies), by listener."
    );
    describe_counter!(
        CONFIG_RELOADS_TOTAL,
        "Config reloads attempted, by result (success, error)."
    );
    describe_gauge!(CONFIG_GENERATION, "Generation of the config being served.");
    describe_gauge!(
        CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS,
        "Unix time at which the config being served was loaded or reloaded."
    );
    describe_gauge!(
        CONFIG_LAST_RELOAD_SUCCESSFUL,
        "1 when the last reload attempt was applied (or none was made since the start), 0 when \
         it was rejected and the config loaded before keeps serving: alert on == 0."
    );
    describe_gauge!(
        TLS_CERTIFICATE_EXPIRY_SECONDS,
        "Unix time at which a listener's certificate expires (its notAfter), by listener and \
         certificate (the certificate file's path)."
    );
    describe_counter!(
        TLS_CERTIFICATE_RELOADS_TOTAL,
        "Certificate pairs re-read after their files changed, by listener and result (ok: the \
         new pair is served; error: it was refused and the loaded pair kept)."
    );
    describe_counter!(
        TLS_HANDSHAKE_ERRORS_TOTAL,
        "TLS handshakes with clients that did not complete, by listener and reason (timeout: \
         not done within handshake_timeout; error: refused, e.g. no common version or cipher, \
         or the client gave up)."
    );
    describe_counter!(
        DISCOVERY_UPDATES_TOTAL,
        "Answers of a cluster's discovery source (DNS or etcd), by cluster and result: applied (the \
         set changed and is served), unchanged, empty (no backends in the answer: the last good \
         set kept, under empty: keep_last), failed (the lookup failed: the last good set kept), \
         rejected (the set cannot serve in the cluster: the last good set kept)."
    );
    describe_gauge!(
        DISCOVERY_BACKENDS,
        "Backends a discovered cluster serves, from its source's last good answer, by cluster."
    );
    describe_gauge!(
        DISCOVERY_LAST_SUCCESS_TIMESTAMP_SECONDS,
        "Unix time of a discovered cluster's last good answer (applied or unchanged), by \
         cluster: alert when it falls behind."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the version label says which sluicegate build runs."
    );
}
