//! `protocol: tcp` when a side stops short (RELIABILITY.md L4-02 to L4-04): a
//! client that half-closes still gets a bulk answer whole before the FIN, a client
//! whose every backend refuses is closed at once, a backend that dies mid-session
//! closes its client, and a session that keeps passing bytes outlives its idle
//! timeout. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::SocketAddr;
use std::time::Duration;

use sluicegate_testkit::{
    Backend, Digest, WAIT, eventually, init_tracing, pattern_digest, start_proxy, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A tcp listener `db` on cluster `db` of `backends`, with `extra` under the listener.
fn config(backends: &[SocketAddr], extra: &str) -> String {
    let mut yaml = format!(
        "listeners:\n  db:\n    address: 127.0.0.1:0\n    protocol: tcp\n    cluster: db\n{extra}\
         clusters:\n  db:\n    connect_timeout: 2s\n    backends:\n"
    );
    for addr in backends {
        yaml.push_str(&format!("      - address: {addr}\n"));
    }
    yaml
}

/// Reads `stream` to its end (EOF or a reset), bounded by [`WAIT`]: what it read.
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    within(WAIT, "the proxy closes the client", async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Ok::<_, std::io::Error>(()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .unwrap();
    got
}

#[tokio::test]
async fn after_a_client_half_close_ten_mib_of_answer_arrive_whole_before_the_fin() {
    init_tracing();
    const ANSWER: usize = 10 << 20;
    let backend = Backend::answering_after_eof(ANSWER);
    let proxy = start_proxy(&config(&[backend.addr()], "")).await;
    let mut stream = TcpStream::connect(proxy.listener("db")).await.unwrap();
    stream.write_all(b"the whole request").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    within(
        WAIT,
        "the answer, then FIN",
        stream.read_to_end(&mut answer),
    )
    .await
    .unwrap();
    let mut digest = Digest::default();
    digest.update(&answer);
    assert_eq!(digest.finish(), pattern_digest(ANSWER as u64));
}

#[tokio::test]
async fn a_client_whose_every_backend_refuses_is_closed_unserved() {
    init_tracing();
    let (first, second) = (Backend::refusing(), Backend::refusing());
    let proxy = start_proxy(&config(&[first.addr(), second.addr()], "")).await;
    for _ in 0..3 {
        let mut stream = TcpStream::connect(proxy.listener("db")).await.unwrap();
        let _ = stream.write_all(b"hello").await;
        assert!(read_to_close(&mut stream).await.is_empty());
    }
}

#[tokio::test]
async fn a_backend_that_dies_mid_session_closes_its_client() {
    init_tracing();
    let dying = Backend::tcp_resetting();
    let proxy = start_proxy(&config(&[dying.addr()], "")).await;
    let mut stream = TcpStream::connect(proxy.listener("db")).await.unwrap();
    stream.write_all(b"first").await.unwrap();
    let mut echo = [0u8; 5];
    within(WAIT, "echo", stream.read_exact(&mut echo))
        .await
        .unwrap();
    assert_eq!(&echo, b"first");
    // The backend resets at its next read.
    stream.write_all(b"second").await.unwrap();
    assert!(read_to_close(&mut stream).await.is_empty());
    let snapshot = proxy.snapshot();
    let (_, backend) = snapshot
        .cluster("db")
        .unwrap()
        .backend(dying.addr())
        .unwrap();
    assert!(eventually(WAIT, || backend.in_flight() == 0).await);
}

#[tokio::test]
async fn a_session_passing_a_byte_every_200ms_outlives_its_one_second_idle_timeout() {
    init_tracing();
    let echo = Backend::tcp_echo();
    let proxy = start_proxy(&config(&[echo.addr()], "    idle_timeout: 1s\n")).await;
    let mut stream = TcpStream::connect(proxy.listener("db")).await.unwrap();
    // 3 s of traffic: three idle timeouts, never reached.
    for i in 0..15u8 {
        stream.write_all(&[i]).await.unwrap();
        let mut back = [0u8; 1];
        within(WAIT, "echo", stream.read_exact(&mut back))
            .await
            .unwrap();
        assert_eq!(back, [i]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Then silence: closed at the timeout.
    assert!(read_to_close(&mut stream).await.is_empty());
}
