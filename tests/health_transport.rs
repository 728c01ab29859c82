//! Active health checks over the cluster's transport: a cluster with `tls:` is checked
//! over TLS with its CAs and server name (a certificate that does not verify fails the
//! check with the handshake's reason, and a TCP check passes only once the handshake
//! is done), and a cluster speaking `h2c` or `h2` is checked over HTTP/2, so h2-only
//! backends (the HTTP/2 echo backend, a gRPC server) stay healthy. Changing `tls:` or
//! the protocol by a reload restarts the checkers with the new transport.
//!
//! Checks run every 100 ms with a 2 s timeout (TLS handshakes of a debug build on a
//! busy two-core machine must not time out twice in a row), and every wait is bounded
//! by [`WAIT`]. "Stays healthy" is shown by several checks having reached the backend's
//! HTTP layer, which no check did before checks followed the cluster's transport.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::time::Duration;

use sluicegate_testkit::{
    Backend, BackendState, Echoed, TestCert, WAIT, eventually, get, init_tracing, single_cluster,
    start_proxy,
};
use sluicegate_tests::support::health::{APP, last_check, until_state};

/// Checks that reached a backend before it counts as staying healthy: more than
/// `fall` (2), so failing checks would have taken it out.
const CHECKS: usize = 4;

/// A `health_check` value: `kind` every 100 ms, timeout 2 s, rise 2, fall 2.
fn check(kind: &str) -> String {
    format!("{{type: {kind}, interval: 100ms, timeout: 2s, rise: 2, fall: 2}}")
}

/// A `tls` value verifying `backend.test` against the CA file of `cert`, written in
/// `dir`.
fn verified(cert: &TestCert, dir: &tempfile::TempDir) -> String {
    let (ca, _) = cert.write(dir.path(), "backend");
    format!("{{ sni: backend.test, ca: {} }}", ca.display())
}

/// The system's roots, which do not know the test certificates.
const SYSTEM_ROOTS: &str = "{ sni: backend.test }";

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
async fn http_checks_of_a_tls_cluster_verify_against_its_ca_and_fail_with_the_reason() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&["backend.test"]);
    let backend = Backend::tls_echo(&cert, false);
    let spec = check("http");
    let config = |tls: &str| single_cluster(&[&backend], &[("tls", tls), ("health_check", &spec)]);
    let good = verified(&cert, &dir);
    let proxy = start_proxy(&config(&good)).await;
    until_checks(&backend, CHECKS).await;
    assert_up(&proxy, &backend, "status 200");
    let (status, _, text) = get(proxy.addr(), "/x", &[]).await;
    assert_eq!(status, 200, "{text}");

    // A reload to the system's roots restarts the checker, whose handshakes fail.
    proxy.apply(&config(SYSTEM_ROOTS)).await;
    until_state(&proxy, backend.addr(), BackendState::Unhealthy).await;
    let reason = "TLS: certificate verify failed: UnknownIssuer";
    assert_eq!(
        last_check(&proxy, backend.addr()),
        Some((false, reason.into()))
    );
    let (status, _, text) = get(proxy.addr(), "/x", &[]).await;
    assert_eq!(status, 503, "{text}");

    proxy.apply(&config(&good)).await;
    until_state(&proxy, backend.addr(), BackendState::Up).await;
    let (status, _, text) = get(proxy.addr(), "/x", &[]).await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_checks_of_a_tls_cluster_pass_only_once_the_handshake_is_done() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&["backend.test"]);
    let backend = Backend::tls_echo(&cert, false);
    let spec = check("tcp");
    let config = |tls: &str| single_cluster(&[&backend], &[("tls", tls), ("health_check", &spec)]);
    let proxy = start_proxy(&config(&verified(&cert, &dir))).await;
    let done = Some((true, "connected, TLS handshake done".to_owned()));
    let passed = eventually(WAIT, || last_check(&proxy, backend.addr()) == done).await;
    assert!(passed, "{:?}", last_check(&proxy, backend.addr()));
    assert_eq!(backend.requests(), 0, "a TCP check sends no request");

    proxy.apply(&config(SYSTEM_ROOTS)).await;
    until_state(&proxy, backend.addr(), BackendState::Unhealthy).await;
    let reason = "TLS: certificate verify failed: UnknownIssuer";
    assert_eq!(
        last_check(&proxy, backend.addr()),
        Some((false, reason.into()))
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_checks_go_over_tls_with_alpn_h2() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&["backend.test"]);
    let tls = verified(&cert, &dir);
    let spec = check("http");
    let keys = [
        ("upstream_protocol", "h2"),
        ("tls", tls.as_str()),
        ("health_check", spec.as_str()),
    ];
    let backend = Backend::tls_echo(&cert, true);
    let proxy = start_proxy(&single_cluster(&[&backend], &keys)).await;
    until_checks(&backend, CHECKS).await;
    assert_up(&proxy, &backend, "status 200");
    let (status, _, text) = get(proxy.addr(), "/x", &[]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(Echoed::parse(&text).request_line, "GET /x HTTP/2.0");

    // A backend that speaks only HTTP/1.1 refuses ALPN h2: its checks fail saying so,
    // in the words of the 502 a request to it gets.
    let h1_only = Backend::tls_echo(&cert, false);
    proxy.apply(&single_cluster(&[&h1_only], &keys)).await;
    until_state(&proxy, h1_only.addr(), BackendState::Unhealthy).await;
    let reason = "TLS: handshake failed: received fatal alert: NoApplicationProtocol";
    assert_eq!(
        last_check(&proxy, h1_only.addr()),
        Some((false, reason.into()))
    );
    assert_eq!(h1_only.requests(), 0);
}
