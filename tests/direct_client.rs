//! The in-task HTTP/1.1 client (`crates/upstream/src/direct.rs`), which carries every
//! request without a body: each response framing a backend may use arrives whole,
//! a connection is reused only when its response lets it persist and nothing
//! follows the body, and what cannot be read safely is a 502. Raw backends, so the
//! exact bytes are the test's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::time::{Duration, Instant};

use sluicegate_testkit::client::raw_exchange;
use sluicegate_testkit::{Backend, Conn, init_tracing, single_cluster, start_proxy};

/// Whether every answer is a 200 with `body`.
fn all_answered(answers: &[(u16, String)], body: &str) -> bool {
    answers
        .iter()
        .all(|(status, text)| *status == 200 && text == body)
}

/// Three GETs on one client connection: each answer's status and body.
async fn three_gets(backend: &Backend) -> Vec<(u16, String)> {
    let proxy = start_proxy(&single_cluster(&[backend], &[])).await;
    let mut conn = Conn::open(proxy.addr()).await.unwrap();
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (status, _, body) = conn.get("/", &[]).await;
        answers.push((status.as_u16(), body));
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_response_arrives_whole_and_its_connection_is_reused() {
    init_tracing();
    let backend = Backend::replying(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
    );
    let answers = three_gets(&backend).await;
    assert!(all_answered(&answers, "hello, world"), "{answers:?}");
    assert_eq!(backend.requests(), 3);
    assert_eq!(
        backend.accepts(),
        1,
        "a chunked response's connection was not reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interim_responses_are_skipped_and_the_connection_kept() {
    init_tracing();
    let backend = Backend::replying(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\n\
          HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    );
    let answers = three_gets(&backend).await;
    assert!(all_answered(&answers, "ok"), "{answers:?}");
    assert_eq!(backend.accepts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_past_the_body_keep_a_connection_from_being_reused() {
    init_tracing();
    // Two more bytes than framed: the next response on that connection would start
    // with them, so the connection is closed instead.
    let backend = Backend::replying(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokXX");
    let answers = three_gets(&backend).await;
    assert!(all_answered(&answers, "ok"), "{answers:?}");
    assert_eq!(
        backend.accepts(),
        3,
        "a connection with stray bytes on it was reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_with_both_framings_is_read_chunked_without_its_length_and_closed() {
    init_tracing();
    let backend = Backend::replying(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 50\r\n\r\n\
          2\r\nok\r\n0\r\n\r\n",
    );
    let answers = three_gets(&backend).await;
    assert!(all_answered(&answers, "ok"), "{answers:?}");
    assert_eq!(
        backend.accepts(),
        3,
        "a smuggling-shaped response's connection was reused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_delimited_body_ends_with_the_close() {
    init_tracing();
    let backend = Backend::answering(b"HTTP/1.1 200 OK\r\n\r\nuntil the end");
    let answers = three_gets(&backend).await;
    assert!(all_answered(&answers, "until the end"), "{answers:?}");
    assert_eq!(backend.accepts(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_response_has_no_body_whatever_its_length_says() {
    init_tracing();
    let backend = Backend::replying(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let request = b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answer = raw_exchange(proxy.addr(), request).await;
    assert_eq!(answer.matches("HTTP/1.1 200 ").count(), 2, "{answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("content-length: 5"),
        "{answer:?}"
    );
    assert_eq!(backend.accepts(), 1, "the HEAD's connection was not reused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_response_is_a_502() {
    init_tracing();
    let heads: [&'static [u8]; 4] = [
        b"HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nx: a\r\n folded\r\ncontent-length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n",
    ];
    for head in heads {
        let backend = Backend::answering(head);
        let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
        let request = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
        let answer = raw_exchange(proxy.addr(), request).await;
        assert!(
            answer.starts_with("HTTP/1.1 502 "),
            "{:?}: {answer:?}",
            String::from_utf8_lossy(head)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_is_not_passed_off_as_whole() {
    init_tracing();
    let backend = Backend::answering(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let answer = raw_exchange(proxy.addr(), request).await;
    // Either nothing (the head was still buffered when the body failed) or the head
    // with its length and fewer bytes, then the close: never ten bytes.
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 200 "),
        "{answer:?}"
    );
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    assert!(body.len() < 10, "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_connection_gets_its_own_full_response_timeout() {
    init_tracing();
    // The connection's timer is armed by the first request, 300 ms from it; the
    // second request, sent later on the same connection, must still get its whole
    // 300 ms (the timer is moved on when it fires for the first one's deadline),
    // then a 504.
    let backend = Backend::stalling_after(1);
    let keys = [("response_timeout", "300ms")];
    let proxy = start_proxy(&single_cluster(&[&backend], &keys)).await;
    let mut conn = Conn::open(proxy.addr()).await.unwrap();
    let (status, _, _) = conn.get("/", &[]).await;
    assert_eq!(status.as_u16(), 200);
    // Part of the scenario, not a synchronisation: the second request starts
    // half-way to the first one's deadline.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    let (status, _, body) = conn.get("/", &[]).await;
    let waited = started.elapsed();
    assert_eq!(status.as_u16(), 504, "{body}");
    assert!(body.contains("did not respond"), "{body}");
    assert!(waited >= Duration::from_millis(300), "504 after {waited:?}");
    assert_eq!((backend.accepts(), backend.requests()), (1, 2));
}
