//! A backend that closes mid-body (RELIABILITY.md BE-05): it announces 100,000 bytes,
//! sends 40,010 and closes. An HTTP/1 client gets exactly those bytes and then the
//! connection closed, never a clean short message and never a 502 after the 200;
//! an HTTP/2 client gets its stream reset (h2 drops what the stream still had
//! queued, head included), never a clean end, its connection serving on. Both of
//! the proxy's HTTP/1 clients are used (a request without a body goes through the
//! in-task one, one with a body through hyper's).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use http::Method;
use http_body_util::BodyExt;
use sluicegate_testkit::client::{empty, raw_exchange};
use sluicegate_testkit::{
    Backend, H2Conn, WAIT, init_tracing, single_cluster, start_proxy, within,
};

/// What the backend announces, and what it sends before it closes.
const ANNOUNCED: usize = 100_000;
const SENT: usize = 40_010;

/// A backend answering every connection's first request with [`SENT`] of
/// [`ANNOUNCED`] bytes, then closing.
fn truncating() -> Backend {
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {ANNOUNCED}\r\n\r\n{}",
        "y".repeat(SENT)
    );
    Backend::answering(Box::leak(answer.into_bytes().into_boxed_slice()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http1_client_gets_the_bytes_sent_then_the_connection_closed() {
    init_tracing();
    let backend = truncating();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    for request in [
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
    ] {
        // Keep-alive asked: the close is the proxy's, as the body broke.
        let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
        assert!(
            head.contains(&format!("content-length: {ANNOUNCED}")),
            "{head}"
        );
        assert_eq!(body.len(), SENT, "{request:?}");
        assert!(
            body.bytes().all(|b| b == b'y'),
            "{request:?}: not the backend's bytes"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_gets_its_stream_reset_never_a_clean_end() {
    init_tracing();
    let backend = truncating();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let client = H2Conn::open(proxy.addr()).await.unwrap();
    // The reset may come before the head is out: h2 drops the frames a reset stream
    // still had queued, so the client sees a reset, head or no head.
    if let Ok(response) = client.send(client.request(Method::GET, "/", empty())).await {
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        let mut got = 0;
        let ended = within(WAIT, "the cut body", async {
            loop {
                match body.frame().await {
                    Some(Ok(frame)) => got += frame.data_ref().map_or(0, |d| d.len()),
                    Some(Err(error)) => return Err(error.to_string()),
                    None => return Ok(()),
                }
            }
        })
        .await;
        assert!(ended.is_err(), "a cut body ended cleanly after {got} bytes");
        assert!(got <= SENT, "{got} bytes");
    }
    // Only the stream was reset.
    assert!(!client.is_closed(), "the whole connection was closed");
}
