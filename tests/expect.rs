//! `Expect` (RFC 9110 §10.1.1; RELIABILITY.md HDR-09). sluicegate answers
//! `100-continue` itself, as Envoy does by default: hyper sends `100 Continue` when
//! the body is first read, which happens only once the request was routed and passed
//! every check, and the expectation, met, does not go on to the backend. A request
//! refused before its body is read (413 on its length) gets its answer with no
//! `100` before it. Any other expectation is one sluicegate cannot meet: 417, and
//! nothing reaches a backend. Raw sockets on the client side.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use sluicegate_testkit::client::raw_exchange;
use sluicegate_testkit::{
    Backend, Echoed, WAIT, dechunked, init_tracing, single_cluster, start_proxy, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads from `stream` until what came holds `marker`; all that came.
async fn read_until(stream: &mut TcpStream, marker: &str) -> String {
    let mut got = Vec::new();
    within(WAIT, marker, async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains(marker) {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before {marker:?}: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_continue_is_answered_before_the_body_and_not_sent_on() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream
        .write_all(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nExpect: 100-Continue\r\n\
              Connection: close\r\n\r\n",
        )
        .await
        .unwrap();
    // The client waits for the 100 before it sends its body.
    let first = read_until(&mut stream, "\r\n\r\n").await;
    let (interim, early) = first.split_once("\r\n\r\n").unwrap();
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim:?}");
    stream.write_all(b"0123456789").await.unwrap();
    let mut rest = Vec::new();
    within(WAIT, "the answer", stream.read_to_end(&mut rest))
        .await
        .unwrap();
    // The echo backend answers as soon as the head reaches it: some of its answer may
    // have come with the 100.
    let answer = format!("{early}{}", String::from_utf8_lossy(&rest));
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
    let seen = Echoed::parse(&dechunked(&answer));
    assert_eq!(seen.body, "0123456789");
    assert_eq!(seen.all("expect"), Vec::<&str>::new(), "Expect went on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_refused_on_its_length_gets_413_without_a_100() {
    init_tracing();
    let echo = Backend::echo();
    let config = single_cluster(&[&echo], &[]).replace(
        "    address: 127.0.0.1:0\n",
        "    address: 127.0.0.1:0\n    max_request_body: 1KiB\n",
    );
    let proxy = start_proxy(&config).await;
    let answer = raw_exchange(
        proxy.addr(),
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10485760\r\nExpect: 100-continue\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer:?}");
    assert!(!answer.contains(" 100 "), "{answer:?}");
    assert_eq!(echo.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expectation_other_than_100_continue_gets_417_and_reaches_no_backend() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    for expect in ["foo", "100-continue, foo", "100-continued"] {
        let request = format!("GET / HTTP/1.1\r\nHost: a\r\nExpect: {expect}\r\n\r\n");
        let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 417 "), "{expect}: {answer:?}");
        assert!(
            answer.contains("417 Expectation Failed: "),
            "{expect}: {answer:?}"
        );
        // The body, if any, was not read: the connection closes after the answer.
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer:?}"
        );
    }
    assert_eq!(echo.requests(), 0);
}
