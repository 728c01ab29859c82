//! Graceful shutdown: stop accepting at once, let in-flight requests finish within
//! the drain timeout, close what is left when it passes.

use std::io::ErrorKind;
use std::net::SocketAddr;

use sluicegate_testkit::{
    Backend, Conn, DrainOutcome, Proxy, WAIT, eventually, eventually_async, get, init_tracing,
    single_cluster, start_proxy, try_get,
};
use tokio::net::TcpStream;

/// A proxy in front of `backend` with this drain timeout.
async fn proxy_with_drain(backend: &Backend, drain_timeout: &str) -> Proxy {
    let yaml = single_cluster(&[backend], &[]).replace(
        "drain_timeout: 10s",
        &format!("drain_timeout: {drain_timeout}"),
    );
    start_proxy(&yaml).await
}

/// Waits until connecting to `addr` is refused.
async fn refused(addr: SocketAddr) -> bool {
    eventually_async(WAIT, || async move {
        matches!(TcpStream::connect(addr).await, Err(e) if e.kind() == ErrorKind::ConnectionRefused)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_request_completes_while_new_connections_are_refused() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = proxy_with_drain(&backend, "10s").await;
    let addr = proxy.addr();
    let slow = tokio::spawn(async move { get(addr, "/slow?ms=2500", &[]).await });
    assert!(
        eventually(WAIT, || backend.requests() == 1).await,
        "the slow request never arrived"
    );

    let drain = tokio::spawn(proxy.shutdown());
    assert!(
        refused(addr).await,
        "the proxy still accepts connections while draining"
    );
    assert!(
        !slow.is_finished(),
        "the slow request finished before the drain was checked"
    );

    let (status, _, body) = slow.await.expect("the slow request's task");
    assert_eq!((status.as_u16(), body.as_str()), (200, "app"));
    assert_eq!(drain.await.expect("the drain task"), DrainOutcome::Drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_client_connections_do_not_hold_up_the_drain() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = proxy_with_drain(&backend, "10s").await;
    let mut idle = Conn::open(proxy.addr())
        .await
        .expect("connect to the proxy");
    let (status, _, _) = idle.get("/", &[]).await;
    assert_eq!(status, 200);
    // The connection stays open and idle; draining closes it instead of waiting.
    assert_eq!(proxy.shutdown().await, DrainOutcome::Drained);
    let closed = eventually(WAIT, || idle.is_closed()).await;
    assert!(closed, "the idle client connection was not closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_timeout_closes_requests_that_are_still_running() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = proxy_with_drain(&backend, "300ms").await;
    let addr = proxy.addr();
    // The backend would answer after 5 s, well within WAIT: a 200 would mean the
    // proxy waited for it instead of closing the connection at the drain timeout.
    let slow = tokio::spawn(async move { try_get(addr, "/slow?ms=5000", &[]).await });
    assert!(
        eventually(WAIT, || backend.requests() == 1).await,
        "the slow request never arrived"
    );

    assert_eq!(proxy.shutdown().await, DrainOutcome::TimedOut);
    let result = slow.await.expect("the slow request's task");
    assert!(result.is_err(), "the request was not cut off: {result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_finished_during_the_drain_says_connection_close() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = proxy_with_drain(&backend, "10s").await;
    let addr = proxy.addr();
    // A keep-alive connection (HTTP/1.1, nothing said) with a slow request on it.
    let slow = tokio::spawn(async move {
        let mut conn = Conn::open(addr).await.expect("connect to the proxy");
        let answer = conn.get("/slow?ms=1500", &[]).await;
        (answer, conn)
    });
    assert!(
        eventually(WAIT, || backend.requests() == 1).await,
        "the slow request never arrived"
    );
    let drain = tokio::spawn(proxy.shutdown());
    let ((status, headers, _), conn) = slow.await.expect("the slow request's task");
    assert_eq!(status, 200);
    // The client learns from the answer itself not to send another request.
    let connection = headers.get("connection").map(|v| v.to_str().unwrap_or(""));
    assert_eq!(connection, Some("close"), "{headers:?}");
    assert!(eventually(WAIT, || conn.is_closed()).await);
    assert_eq!(drain.await.expect("the drain task"), DrainOutcome::Drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_request_in_flight_finishes_and_its_connection_gets_goaway() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = proxy_with_drain(&backend, "10s").await;
    let client = sluicegate_testkit::H2Conn::open(proxy.addr())
        .await
        .expect("an HTTP/2 connection");
    let slow = {
        let client = client.clone();
        tokio::spawn(async move { client.get("/slow?ms=1500").await })
    };
    assert!(
        eventually(WAIT, || backend.requests() == 1).await,
        "the slow request never arrived"
    );
    let drain = tokio::spawn(proxy.shutdown());
    let (status, _, body) = slow.await.expect("the slow request's task");
    assert_eq!((status.as_u16(), body.as_str()), (200, "app"));
    // GOAWAY came: the client takes the connection as closed, and the drain ends.
    assert!(eventually(WAIT, || client.is_closed()).await, "no GOAWAY");
    assert_eq!(drain.await.expect("the drain task"), DrainOutcome::Drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_sent_just_after_the_drain_starts_on_a_busy_connection_is_answered() {
    // A busy keep-alive client (wrk, a connection pool) sends its next request as
    // soon as it read an answer: closing its connection the moment the drain starts
    // would cut that request (the client sees a reset or an empty read, not an
    // answer). A connection that was idle only a moment gets its next request
    // answered, with `Connection: close`.
    init_tracing();
    let backend = Backend::named("app");
    let proxy = proxy_with_drain(&backend, "10s").await;
    let addr = proxy.addr();
    let mut conn = Conn::open(addr).await.expect("connect to the proxy");
    let (status, _, _) = conn.get("/", &[]).await;
    assert_eq!(status, 200);
    let drain = tokio::spawn(proxy.shutdown());
    assert!(refused(addr).await, "the drain never started");
    let (status, headers, _) = conn.get("/", &[]).await;
    assert_eq!(status, 200, "the request racing the drain was cut");
    let connection = headers.get("connection").map(|v| v.to_str().unwrap_or(""));
    assert_eq!(connection, Some("close"), "{headers:?}");
    assert_eq!(drain.await.expect("the drain task"), DrainOutcome::Drained);
}
