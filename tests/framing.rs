//! Framing is re-serialised, never passed on as the client or the backend wrote it:
//! `Content-Length` goes upstream in canonical form, a transfer coding sluicegate
//! would lose is refused, and an unsolicited `101` from a backend is a 502. Raw
//! sockets both ways.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use sluicegate_testkit::client::raw_exchange;
use sluicegate_testkit::{Backend, Echoed, dechunked, init_tracing, single_cluster, start_proxy};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_padded_content_length_goes_upstream_in_canonical_form() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    for length in ["010", "0010", "10"] {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n0123456789"
        );
        let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{length}: {answer:?}");
        let seen = Echoed::parse(&dechunked(&answer));
        assert_eq!(seen.one("content-length"), "10", "sent {length}");
        assert_eq!(seen.body, "0123456789", "sent {length}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_coding_other_than_chunked_is_refused_with_501() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\
                   Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 501 "), "{answer:?}");
    assert!(answer.contains("transfer coding"), "{answer:?}");
    assert_eq!(echo.requests(), 0, "the request reached the backend");
    // Plain chunked is fine.
    let request = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\
                   Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
    assert!(Echoed::parse(&dechunked(&answer)).body.ends_with("hello"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsolicited_101_from_a_backend_is_a_502() {
    init_tracing();
    let backend = Backend::answering(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nraw bytes",
    );
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let answer = raw_exchange(
        proxy.addr(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 502 "), "{answer:?}");
    assert!(!answer.contains("raw bytes"), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_response_head_past_64_kib_is_a_502() {
    init_tracing();
    // BE-09: a head as large as the client's limit, from the other side.
    let head = format!(
        "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 2\r\n\r\nok",
        "x".repeat(100 * 1024)
    );
    let backend = Backend::answering(Box::leak(head.into_bytes().into_boxed_slice()));
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let request = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answer = raw_exchange(proxy.addr(), request).await;
    assert!(
        answer.starts_with("HTTP/1.1 502 "),
        "{:?}",
        &answer[..answer.len().min(200)]
    );
    assert!(!answer.contains("xxxx"), "the oversized head was forwarded");
    // A large head within the limit still passes.
    let head = format!(
        "HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 2\r\n\r\nok",
        "x".repeat(48 * 1024)
    );
    let backend = Backend::answering(Box::leak(head.into_bytes().into_boxed_slice()));
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let answer = raw_exchange(proxy.addr(), request).await;
    assert!(
        answer.starts_with("HTTP/1.1 200 "),
        "{:?}",
        &answer[..answer.len().min(200)]
    );
    assert!(answer.ends_with("ok"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http10_backend_answers_an_http11_client_in_http11_and_keeps_its_connection() {
    init_tracing();
    let backend = Backend::answering(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut conn = sluicegate_testkit::Conn::open(proxy.addr()).await.unwrap();
    for _ in 0..3 {
        let (status, _, body) = conn.get("/", &[]).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "ok"));
    }
    assert!(
        !conn.is_closed(),
        "the client's keep-alive connection was closed"
    );
    let request = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answer = raw_exchange(proxy.addr(), request).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
}
