//! `clusters.*.response_body_timeout`: once a response head has arrived, the wait for
//! each next bytes of its body is bounded (nginx's `proxy_read_timeout`, HAProxy's
//! `timeout server`). A backend that stops mid-body has its response cut at the
//! timeout, visibly (HTTP/1: the client connection closes short of the framed length;
//! HTTP/2: the stream is reset), and its connection closed; a body whose bytes keep
//! coming under the timeout passes whole, however long it takes in all.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::time::Duration;

use sluicegate_testkit::client::{empty, raw_exchange, read_text};
use sluicegate_testkit::{
    Backend, H2Conn, STALLED_BODY, WAIT, eventually, init_tracing, single_cluster, start_proxy,
    within,
};
use tokio::time::Instant;

/// The timeout the tests set: short, and far above a busy machine's scheduling gaps.
const TIMEOUT: &str = "1s";

/// The answer the stalled backend's response was cut to: its head, `hello`, no more.
fn assert_cut(answer: &str, what: &str) {
    assert!(answer.starts_with("HTTP/1.1 200 "), "{what}: {answer:?}");
    assert!(
        answer.contains(&format!("content-length: {STALLED_BODY}")),
        "{what}: {answer:?}"
    );
    assert!(answer.ends_with("\r\n\r\nhello"), "{what}: {answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_mid_way_is_cut_at_the_timeout_and_its_connection_closed() {
    init_tracing();
    let backend = Backend::stalling_mid_body();
    let config = single_cluster(&[&backend], &[("response_body_timeout", TIMEOUT)]);
    let proxy = start_proxy(&config).await;
    // A request without a body (the in-task client), then one with a body (hyper's
    // client): both read the backend's body their own way.
    let requests = [
        ("GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        (
            "POST",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
        ),
    ];
    for (n, (what, request)) in requests.into_iter().enumerate() {
        let started = Instant::now();
        // The client asked for keep-alive: only the cut closes its connection.
        let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
        assert_cut(&answer, what);
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "{what}: cut early"
        );
        assert!(
            eventually(WAIT, || backend.closed() == n + 1).await,
            "{what}: the backend connection stayed open ({} closed)",
            backend.closed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_sees_the_stalled_stream_reset() {
    init_tracing();
    let backend = Backend::stalling_mid_body();
    let config = single_cluster(&[&backend], &[("response_body_timeout", TIMEOUT)]);
    let proxy = start_proxy(&config).await;
    let client = H2Conn::open(proxy.addr()).await.unwrap();
    let request = client.request(http::Method::GET, "/", empty());
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let read = within(WAIT, "the stalled body to end", read_text(response)).await;
    assert!(read.is_err(), "a cut body read as complete: {read:?}");
    assert!(
        eventually(WAIT, || backend.closed() == 1).await,
        "the backend connection stayed open"
    );
    // The connection itself goes on serving.
    assert!(!client.is_closed(), "the reset took the whole connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickling_under_the_timeout_passes_whole() {
    init_tracing();
    // 5 chunks 400 ms apart: 2 s in all, twice the timeout, never 1 s without bytes.
    let backend = Backend::trickling(5, 10, Duration::from_millis(400));
    let config = single_cluster(&[&backend], &[("response_body_timeout", TIMEOUT)]);
    let proxy = start_proxy(&config).await;
    let answer = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
    assert_eq!(answer.matches("xxxxxxxxxx").count(), 5, "{answer:?}");
    assert!(answer.ends_with("0\r\n\r\n"), "not ended whole: {answer:?}");
}
