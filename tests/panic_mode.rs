//! Panic mode over real sockets: with every backend unhealthy and no panic mode the
//! answer is 503 (no healthy backend); with too few healthy, requests spread over
//! every backend, never a drained one.
//!
//! Checks run every 100–200 ms so that a state change takes a fraction of a second;
//! every wait is bounded by [`WAIT`](sluicegate_testkit::WAIT), and time bounds carry a generous slack for busy
//! two-core machines (the helpers are in `sluicegate_tests::support::health`).

use sluicegate_testkit::{Backend, BackendState, get, init_tracing, single_cluster, start_proxy};
use sluicegate_tests::support::health::{APP, check, in_panic, names, until_state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_backends_unhealthy_without_panic_mode_is_503_no_healthy_backend() {
    init_tracing();
    let (x, y) = (Backend::refusing(), Backend::refusing());
    let spec = check("tcp", 100, "");
    let keys = [("health_check", spec.as_str())];
    let proxy = start_proxy(&single_cluster(&[&x, &y], &keys)).await;
    until_state(&proxy, x.addr(), BackendState::Unhealthy).await;
    until_state(&proxy, y.addr(), BackendState::Unhealthy).await;
    assert!(!in_panic(&proxy));
    let (status, headers, body) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(status, 503, "body: {body}");
    assert!(
        body.contains("no healthy backend in cluster \"app\""),
        "body: {body:?}"
    );
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_alive_but_failing_their_checks_get_no_request_and_the_client_503() {
    init_tracing();
    let (a, switch_a) = Backend::switchable("a");
    let (b, switch_b) = Backend::switchable("b");
    let spec = check("http", 100, "");
    let proxy = start_proxy(&single_cluster(
        &[&a, &b],
        &[("health_check", spec.as_str())],
    ))
    .await;
    switch_a.set_health(503);
    switch_b.set_health(503);
    until_state(&proxy, a.addr(), BackendState::Unhealthy).await;
    until_state(&proxy, b.addr(), BackendState::Unhealthy).await;
    for _ in 0..5 {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        assert_eq!(status, 503, "body: {body}");
    }
    // They accept connections, so any attempt would have been served: none was.
    assert_eq!((a.served(), b.served()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_mode_spreads_over_every_backend_when_too_few_are_healthy() {
    init_tracing();
    let (a, switch_a) = Backend::switchable("a");
    let (b, switch_b) = Backend::switchable("b");
    let (c, _switch_c) = Backend::switchable("c");
    let spec = check("http", 100, "");
    let keys = [("health_check", spec.as_str()), ("panic_threshold", "50%")];
    let proxy = start_proxy(&single_cluster(&[&a, &b, &c], &keys)).await;

    // One of three unhealthy: 2/3 healthy is not below 50%, so no panic.
    switch_a.set_health(503);
    until_state(&proxy, a.addr(), BackendState::Unhealthy).await;
    assert!(!in_panic(&proxy));
    let served = names(&proxy, 12).await;
    assert!(!served.contains(&"a".into()), "{served:?}");
    assert!(served.contains(&"b".into()) && served.contains(&"c".into()));

    // Two of three: 1/3 healthy is below 50%: every backend gets traffic again, the
    // unhealthy ones still answering `/`.
    switch_b.set_health(503);
    until_state(&proxy, b.addr(), BackendState::Unhealthy).await;
    assert!(in_panic(&proxy));
    let served = names(&proxy, 30).await;
    for name in ["a", "b", "c"] {
        assert!(
            served.contains(&name.into()),
            "{name} got nothing: {served:?}"
        );
    }

    // Back to two healthy: panic mode ends, the unhealthy one is left out again.
    switch_b.set_health(200);
    until_state(&proxy, b.addr(), BackendState::Up).await;
    assert!(!in_panic(&proxy));
    let served = names(&proxy, 12).await;
    assert!(!served.contains(&"a".into()), "{served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_mode_never_picks_a_drained_backend() {
    init_tracing();
    let (a, _switch_a) = Backend::switchable("a");
    let (b, switch_b) = Backend::switchable("b");
    let (c, switch_c) = Backend::switchable("c");
    let spec = check("http", 100, "");
    let keys = [("health_check", spec.as_str()), ("panic_threshold", "50%")];
    let proxy = start_proxy(&single_cluster(&[&a, &b, &c], &keys)).await;
    let cluster = proxy.snapshot().cluster(APP).cloned().expect("cluster app");
    assert_eq!(cluster.set_drained(a.addr(), true), Some(false));
    assert_eq!(proxy.backend_state(APP, a.addr()), BackendState::Drained);

    // Drained backends do not count: 1 of the 2 others healthy is not below 50%.
    switch_b.set_health(503);
    until_state(&proxy, b.addr(), BackendState::Unhealthy).await;
    assert!(!in_panic(&proxy));
    assert!(names(&proxy, 10).await.iter().all(|n| n == "c"));

    // None of the two healthy: panic spreads over both, never over the drained one.
    switch_c.set_health(503);
    until_state(&proxy, c.addr(), BackendState::Unhealthy).await;
    assert!(in_panic(&proxy));
    let served = names(&proxy, 20).await;
    assert!(!served.contains(&"a".into()), "{served:?}");
    assert!(served.contains(&"b".into()) && served.contains(&"c".into()));
}
