//! `max_request_body`: a body whose `Content-Length` is past the limit is answered 413
//! before a byte of it is read, a chunked one when it passes the limit, both with
//! `Connection: close` and never reaching the backend whole; the answer survives the
//! body bytes the client keeps sending (lingering close). A body within the limit is
//! forwarded whole. Raw sockets on the client side.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::SocketAddr;

use sluicegate_testkit::{
    Backend, WAIT, eventually, init_tracing, single_cluster, start_proxy, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A single-cluster config on `sink` whose listener takes bodies up to 1 KiB, with
/// `cluster_keys` on the cluster.
fn limited(sink: &Backend, cluster_keys: &[(&str, &str)]) -> String {
    single_cluster(&[sink], cluster_keys).replace(
        "    address: 127.0.0.1:0\n",
        "    address: 127.0.0.1:0\n    max_request_body: 1KiB\n",
    )
}

/// Writes `bytes` (all at once) and reads until the proxy closes or its answer's
/// `Content-Length` body has come; what came.
async fn exchange(proxy: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let _ = stream.write_all(bytes).await;
    within(WAIT, "an answer", async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&got);
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let len = head.lines().find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")?
                    .parse()
                    .ok()
            });
            if len.is_some_and(|len: usize| body.len() >= len) {
                break;
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    })
    .await
}

fn post(len: usize) -> Vec<u8> {
    let mut bytes =
        format!("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    bytes.extend(std::iter::repeat_n(b'x', len));
    bytes
}

fn chunked(chunks: usize, size: usize) -> Vec<u8> {
    let mut bytes = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..chunks {
        bytes.extend(format!("{size:x}\r\n").into_bytes());
        bytes.extend(std::iter::repeat_n(b'y', size));
        bytes.extend(b"\r\n");
    }
    bytes.extend(b"0\r\n\r\n");
    bytes
}

fn assert_413(answer: &str) {
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert!(
        answer.ends_with("413 Payload Too Large: request body larger than the listener accepts\n"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_length_past_the_limit_is_answered_413_unread() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&limited(&sink, &[])).await;
    // 256 KiB sent with the head: the answer must survive the bytes left unread.
    let answer = exchange(proxy.addr(), &post(256 * 1024)).await;
    assert_413(&answer);
    assert_eq!(sink.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_passing_the_limit_is_answered_413() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&limited(&sink, &[])).await;
    assert_413(&exchange(proxy.addr(), &chunked(3, 600)).await);
    // Held whole for a resend (retries on) and cut while being read: the same answer.
    let retries = [("retries", "{attempts: 2, on: [reset]}")];
    let proxy = start_proxy(&limited(&sink, &retries)).await;
    assert_413(&exchange(proxy.addr(), &chunked(3, 600)).await);
    // The backend never got a complete request: what reached it was cut.
    assert!(
        eventually(WAIT, || sink.uploads_cut() == sink.requests()).await,
        "{} requests reached the backend, {} of them cut",
        sink.requests(),
        sink.uploads_cut()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_within_the_limit_is_forwarded_whole() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&limited(&sink, &[])).await;
    let answer = exchange(proxy.addr(), &post(1024)).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains("bytes=1024"), "{answer}");
    let answer = exchange(proxy.addr(), &chunked(2, 512)).await;
    assert!(answer.contains("bytes=1024"), "{answer}");
}
