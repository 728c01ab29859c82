//! Active health checks in the cluster's protocol: a cluster speaking `h2c` is
//! checked over HTTP/2, so h2-only backends (the HTTP/2 echo backend, a gRPC server)
//! stay healthy. Changing the protocol by a reload restarts the checkers with it.
//!
//! Checks run every 100 ms with a 2 s timeout (a busy two-core machine must not time
//! them out twice in a row), and every wait is bounded by [`WAIT`]. "Stays healthy" is
//! shown by several checks having reached the backend's HTTP layer, which no check did
//! before checks followed the cluster's protocol.

use std::time::Duration;

use sluicegate_testkit::{
    Backend, BackendState, Echoed, WAIT, eventually, get, init_tracing, single_cluster, start_proxy,
};
use sluicegate_tests::support::health::{APP, last_check, until_state};

/// Checks that reached a backend before it counts as staying healthy: more than
/// `fall` (2), so failing checks would have taken it out.
const CHECKS: usize = 4;

/// A `health_check` value: `kind` every 100 ms, timeout 2 s, rise 2, fall 2.
fn check(kind: &str) -> String {
    format!("{{type: {kind}, interval: 100ms, timeout: 2s, rise: 2, fall: 2}}")
}

/// Waits until `n` HTTP checks have reached `backend`.
async fn until_checks(backend: &Backend, n: usize) {
    let reached = eventually(WAIT, || backend.health_checks() >= n).await;
    let seen = backend.health_checks();
    assert!(
        reached,
        "{seen} checks reached the backend in {WAIT:?}, not {n}"
    );
}

/// Asserts that the backend at `backend` is up and its last check passed with `detail`.
fn assert_up(proxy: &sluicegate_testkit::Proxy, backend: &Backend, detail: &str) {
    assert_eq!(proxy.backend_state(APP, backend.addr()), BackendState::Up);
    let last = last_check(proxy, backend.addr());
    assert_eq!(last, Some((true, detail.into())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_checks_speak_http2_to_an_h2_only_backend() {
    init_tracing();
    let backend = Backend::h2_echo(None, Duration::ZERO);
    let spec = check("http");
    let h2c = [
        ("upstream_protocol", "h2c"),
        ("health_check", spec.as_str()),
    ];
    let proxy = start_proxy(&single_cluster(&[&backend], &h2c)).await;
    until_checks(&backend, CHECKS).await;
    assert_up(&proxy, &backend, "status 200");
    let (status, _, text) = get(proxy.addr(), "/x", &[]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(Echoed::parse(&text).request_line, "GET /x HTTP/2.0");

    // Checked over HTTP/1.1, as every check was before, it goes down.
    let http1 = [("health_check", spec.as_str())];
    proxy.apply(&single_cluster(&[&backend], &http1)).await;
    until_state(&proxy, backend.addr(), BackendState::Unhealthy).await;
    let last = last_check(&proxy, backend.addr());
    assert!(last.as_ref().is_some_and(|(passed, _)| !passed), "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_server_in_an_h2c_cluster_passes_its_checks() {
    init_tracing();
    let backend = Backend::grpc();
    let spec = check("http");
    let h2c = [
        ("upstream_protocol", "h2c"),
        ("health_check", spec.as_str()),
    ];
    let proxy = start_proxy(&single_cluster(&[&backend], &h2c)).await;
    until_checks(&backend, CHECKS).await;
    assert_up(&proxy, &backend, "status 200");
}
