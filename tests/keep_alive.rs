//! Upstream connection reuse, and backends that close kept-alive connections: the
//! proxy reuses what it can and never turns a backend's close into a client error.

use std::time::Duration;

use sluicegate_testkit::{
    Backend, Conn, WAIT, eventually, get, init_tracing, single_cluster, start_proxy,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_requests_reuse_one_upstream_connection() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    // A fresh client connection each time: upstream reuse must not depend on it.
    for i in 0..20 {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (200, "app"),
            "request {i}"
        );
    }
    assert_eq!(backend.requests(), 20);
    assert!(
        backend.accepts() <= 2,
        "{} upstream connections for 20 sequential requests",
        backend.accepts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_closing_after_every_response_never_fails_a_request() {
    init_tracing();
    // Closes each connection right after its first response, which announces
    // keep-alive: the proxy's pooled connection is always dead by the next request.
    let backend = Backend::closing();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut client = Conn::open(proxy.addr())
        .await
        .expect("connect to the proxy");
    for i in 0..50 {
        let (status, _, body) = client.get("/", &[]).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "ok"), "request {i}");
    }
    assert_eq!(backend.requests(), 50);
    assert_eq!(backend.accepts(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_closing_idle_connections_never_fails_a_request() {
    init_tracing();
    // The backend's keep-alive timeout is far below the proxy's idle timeout (60 s).
    let backend = Backend::short_keep_alive("app", Duration::from_millis(50));
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut client = Conn::open(proxy.addr())
        .await
        .expect("connect to the proxy");
    for i in 0..10 {
        let (status, _, body) = client.get("/", &[]).await;
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (200, "app"),
            "request {i}"
        );
        // Wait until the backend has closed the idle pooled connection.
        let closed = eventually(WAIT, || backend.closed() == i + 1).await;
        assert!(
            closed,
            "the backend did not close connection {i} ({} closed)",
            backend.closed()
        );
    }
    assert_eq!(backend.requests(), 10);
    assert_eq!(backend.accepts(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_connection_closed_under_a_request_is_resent_on_a_fresh_one() {
    init_tracing();
    // Every second request on a connection meets the backend's idle close: written,
    // then the connection closes with no answer. No `retries:` block.
    let backend = Backend::idle_closing();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut client = Conn::open(proxy.addr())
        .await
        .expect("connect to the proxy");
    for i in 0..10 {
        let (status, _, body) = client.get("/", &[]).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "ok"), "request {i}");
    }
    // Each request after the first met a closing reused connection once, at most.
    assert!(backend.requests() <= 19, "{} requests", backend.requests());
    // A request that is not idempotent is never sent twice: it gets the 502.
    let mut failed = 0;
    for _ in 0..4 {
        let request = sluicegate_testkit::client::request(
            http::Method::POST,
            proxy.addr(),
            "/",
            &[],
            sluicegate_testkit::client::empty(),
        );
        let response = client.send(request).await.expect("a response");
        failed += usize::from(response.status() == 502);
    }
    assert!(failed >= 1, "no POST met the idle close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_bounds_backend_connections_and_queues_the_rest() {
    init_tracing();
    // Each answer takes 100 ms: 20 requests at once pile up behind a limit of 2.
    let backend = Backend::slow(Duration::from_millis(100));
    let proxy = start_proxy(&single_cluster(&[&backend], &[("max_connections", "2")])).await;
    let addr = proxy.addr();
    let clients: Vec<_> = (0..20)
        .map(|_| tokio::spawn(async move { get(addr, "/", &[]).await }))
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let answered = tokio::time::timeout(WAIT, client).await;
        let (status, _, _) = answered.expect("answered in time").expect("client task");
        assert_eq!(
            status.as_u16(),
            200,
            "request {i} waited for a connection and got it"
        );
    }
    assert_eq!(backend.requests(), 20);
    assert!(
        backend.accepts() <= 2,
        "{} backend connections under max_connections: 2",
        backend.accepts()
    );
}
