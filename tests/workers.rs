//! Serving on worker threads (one single-threaded runtime per CPU, a socket per
//! worker with `SO_REUSEPORT`), as `sluicegate run` does on more than one CPU:
//! every worker serves, backend limits hold across workers, reloads bind new
//! listeners on every worker, and the drain waits for every worker's requests.

use std::time::Duration;

use sluicegate_testkit::{
    Backend, DrainOutcome, WAIT, Workers, eventually, get, init_tracing, single_cluster,
    start_proxy_on,
};

/// Worker threads for one test (the pools are built for the most any test started).
fn two_workers() -> Workers {
    Workers::spawn(2).unwrap_or_else(|e| panic!("two worker threads: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_on_two_workers_share_one_backend_limit() {
    init_tracing();
    let backend = Backend::slow(Duration::from_millis(100));
    let yaml = single_cluster(&[&backend], &[("max_connections", "2")]);
    let proxy = start_proxy_on(&yaml, two_workers()).await;
    let addr = proxy.addr();
    // Each on a connection of its own: the kernel spreads them over both sockets.
    let clients: Vec<_> = (0..24)
        .map(|_| tokio::spawn(async move { get(addr, "/", &[]).await }))
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let answered = tokio::time::timeout(WAIT, client).await;
        let (status, _, body) = answered.expect("answered in time").expect("client task");
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (200, "slow"),
            "request {i}"
        );
    }
    assert_eq!(backend.requests(), 24);
    assert!(
        backend.accepts() <= 2,
        "{} backend connections under max_connections: 2 with two workers",
        backend.accepts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_worker_reuses_its_own_backend_connections() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy_on(&single_cluster(&[&backend], &[]), two_workers()).await;
    for i in 0..40 {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (200, "app"),
            "request {i}"
        );
    }
    assert_eq!(backend.requests(), 40);
    // Sequential requests: at most one connection per worker.
    assert!(
        backend.accepts() <= 2,
        "{} backend connections for 40 sequential requests on two workers",
        backend.accepts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_added_by_reload_serves_and_the_drain_waits_on_every_worker() {
    init_tracing();
    let backend = Backend::named("app");
    let yaml = single_cluster(&[&backend], &[]);
    let proxy = start_proxy_on(&yaml, two_workers()).await;
    let added = yaml.replace(
        "listeners:\n",
        "listeners:\n  second:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\n",
    );
    assert_ne!(added, yaml, "the test config has a listeners section");
    proxy.apply(&added).await;
    let second = proxy.listener_now("second");
    for _ in 0..10 {
        let (status, _, body) = get(second, "/", &[]).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "app"));
    }
    // Slow requests on several connections, so on both workers, then the drain.
    let addr = proxy.addr();
    let slow: Vec<_> = (0..6)
        .map(|_| tokio::spawn(async move { get(addr, "/slow?ms=1500", &[]).await }))
        .collect();
    assert!(
        eventually(WAIT, || backend.requests() == 16).await,
        "the slow requests never all arrived"
    );
    let outcome = tokio::time::timeout(WAIT, proxy.shutdown()).await;
    assert_eq!(outcome.expect("drained in time"), DrainOutcome::Drained);
    for request in slow {
        let (status, _, body) = request.await.expect("slow request task");
        assert_eq!((status.as_u16(), body.as_str()), (200, "app"));
    }
}
