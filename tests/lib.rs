//! End-to-end tests of sluicegate over real sockets on `127.0.0.1`, one concept per
//! file, each listed as a `[[test]]` in `Cargo.toml` (the package root is `tests/`, so
//! cargo's autodiscovery does not apply; `.ci/tests-listed.sh` fails CI on a file left
//! out): `balancing`, `policies`, `routing`, `errors`, `headers`, `identity`,
//! `hop_rules`, `framing`, `refused`, `loops`, `path_rules`, `bodies`, `keep_alive`,
//! `drain`, `reload_listeners`, `reload_state`, `health_checks`, `health_transport`,
//! `outlier`, `panic_mode`, `retries`, `failover`, `upgrades`, `tunnel_reload`,
//! `tunnel_memory`, `client_timeouts`, `body_limits`, `backend_queue`, `rate_limits`, `http2`, `h2_floods`, `upstream_h2`, `tls`, `grpc`. The fake backends and the
//! in-process proxy come
//! from `sluicegate-testkit`; this library holds only helpers that several test files
//! share.

/// Helpers shared by test files, one module per group of files.
pub mod support {
    pub mod config;
    pub mod health;
}
