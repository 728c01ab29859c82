//! The deadlines of an HTTP/1 client connection (`header_read_timeout`,
//! `keepalive_timeout`, `request_body_timeout`): a head is bounded in total, however
//! its bytes trickle in (408, then close); a connection that sends nothing, or stays
//! idle between requests, is closed without an answer; a body read is bounded between
//! reads (408); and a connection waiting on a slow backend is never cut. Raw sockets
//! on the client side, so every byte's timing is the test's.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::time::Duration;

use sluicegate_testkit::{Backend, WAIT, eventually, init_tracing, start_proxy, within};
use sluicegate_tests::support::config::with_listener_keys;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Reads until the proxy closes the connection (bounded by [`WAIT`]); what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    within(WAIT, "the proxy to close the connection", async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads one response whose body ends with `marker`; what came.
async fn read_response(stream: &mut TcpStream, marker: &str) -> String {
    let mut got = Vec::new();
    within(WAIT, "a response", async {
        let mut buf = [0u8; 4096];
        while !String::from_utf8_lossy(&got).contains(marker) {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the response: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_trickled_a_byte_at_a_time_is_cut_at_the_header_read_timeout_with_408() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&with_listener_keys(
        &echo,
        &[("header_read_timeout", "600ms")],
    ))
    .await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ")
        .await
        .unwrap();
    // One byte every 50 ms: every gap is far below the limit, the total is not.
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < WAIT {
        if stream.write_all(b"x").await.is_err() {
            break;
        }
        match tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let cut_after = started.elapsed();
    answer.extend_from_slice(read_to_close(&mut stream).await.as_bytes());
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 408 "),
        "got {answer:?} after {cut_after:?}"
    );
    assert!(
        answer.contains("408 Request Timeout: the request head did not arrive in time"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        cut_after >= Duration::from_millis(500),
        "cut early: {cut_after:?}"
    );
    assert_eq!(echo.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_quietly_at_the_header_read_timeout() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&with_listener_keys(
        &echo,
        &[("header_read_timeout", "400ms")],
    ))
    .await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut stream).await;
    assert_eq!(answer, "", "a silent connection gets no answer");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_is_closed_once_idle_for_the_keepalive_timeout() {
    init_tracing();
    let echo = Backend::echo();
    let keys = [
        ("keepalive_timeout", "700ms"),
        ("header_read_timeout", "30s"),
    ];
    let proxy = start_proxy(&with_listener_keys(&echo, &keys)).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    // Requests 150 ms apart for longer than the timeout: each one restarts it.
    let busy_until = Instant::now() + Duration::from_millis(1500);
    let mut n = 0;
    let idle_since = loop {
        let request = format!("GET /r{n} HTTP/1.1\r\nHost: a\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_response(&mut stream, &format!("/r{n}")).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        if Instant::now() >= busy_until {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
        n += 1;
    };
    let rest = read_to_close(&mut stream).await;
    assert_eq!(rest, "", "an idle connection is closed without an answer");
    // The proxy's idle wait began as it sent the last response, a little earlier.
    assert!(idle_since.elapsed() >= Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_waiting_on_a_slow_backend_is_not_cut_by_the_client_timeouts() {
    init_tracing();
    let slow = Backend::slow(Duration::from_millis(1500));
    let keys = [
        ("keepalive_timeout", "300ms"),
        ("header_read_timeout", "300ms"),
    ];
    let proxy = start_proxy(&with_listener_keys(&slow, &keys)).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    for path in ["/first", "/second"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: a\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_response(&mut stream, "slow").await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    }
}

/// Sends a `POST` to a [`Backend::sink`] of `len` declared bytes whose body comes `pieces` at a time, one
/// piece every `gap`, then reads the answer to the close.
async fn post_slowly(
    proxy: std::net::SocketAddr,
    len: usize,
    pieces: &[&[u8]],
    gap: Duration,
) -> String {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let head = format!("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: {len}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in pieces {
        tokio::time::sleep(gap).await;
        stream.write_all(piece).await.unwrap();
    }
    let answer = within(WAIT, "an answer", async {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&got);
            if text.contains("bytes=") || text.contains("in time") {
                break;
            }
        }
        got
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_answered_408_at_the_request_body_timeout() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&with_listener_keys(
        &sink,
        &[("request_body_timeout", "400ms")],
    ))
    .await;
    let answer = post_slowly(proxy.addr(), 100, &[b"0123456789"], Duration::ZERO).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer.contains("408 Request Timeout: the request body did not arrive in time"),
        "{answer}"
    );
    // What reached the backend was cut, never ended as a shorter complete body.
    assert!(
        eventually(WAIT, || sink.uploads_cut() == sink.requests()).await,
        "{} requests reached the backend, {} of them cut",
        sink.requests(),
        sink.uploads_cut()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_trickling_under_the_request_body_timeout_is_forwarded_whole() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&with_listener_keys(
        &sink,
        &[("request_body_timeout", "1s")],
    ))
    .await;
    // 10 pieces 150 ms apart: 1.5 s in all, every gap under the limit.
    let pieces: Vec<&[u8]> = vec![b"0123456789"; 10];
    let answer = post_slowly(proxy.addr(), 100, &pieces, Duration::from_millis(150)).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert!(answer.contains("bytes=100"), "{answer}");
}

/// A backend streaming `mib` MiB (chunked, 64 KiB chunks, as fast as it can write).
fn streaming(mib: usize) -> Backend {
    Backend::trickling(mib * 16, 64 * 1024, Duration::ZERO)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_at_the_send_timeout() {
    init_tracing();
    // Far more than the socket buffers on both sides can hold.
    let backend = streaming(64);
    let proxy = start_proxy(&with_listener_keys(&backend, &[("send_timeout", "1s")])).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    // The client reads nothing: once the buffers are full the proxy's writes wait,
    // and past the send timeout it gives up on the client and on the backend.
    assert!(
        eventually(WAIT, || backend.closed() == 1).await,
        "the backend is still streaming to a client that reads nothing"
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "cut early");
    let got = read_to_close(&mut stream).await;
    assert!(
        got.starts_with("HTTP/1.1 200 "),
        "{}",
        &got[..got.len().min(200)]
    );
    assert!(!got.ends_with("0\r\n\r\n"), "the body ended whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reading_slowly_under_the_send_timeout_gets_the_whole_body() {
    init_tracing();
    let backend = streaming(4);
    let proxy = start_proxy(&with_listener_keys(&backend, &[("send_timeout", "1s")])).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    // 256 KiB every 100 ms: the proxy's writes wait, but never near a second.
    let mut got = Vec::new();
    within(WAIT * 3, "the slowly read body", async {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let body_at = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let xs = got[body_at..].iter().filter(|&&b| b == b'x').count();
    assert_eq!(xs, 4 * 1024 * 1024, "the body was cut");
    assert!(got.ends_with(b"0\r\n\r\n"), "not ended whole");
}
