//! HTTP/1.1 upgrades through the proxy: WebSocket both ways, raw upgraded tunnels
//! (half-close, bytes sent before the `101`, the idle timeout), and the upgrades that
//! are not honoured: an unasked `101`, a backend that answers plainly, `h2c`.
#![allow(clippy::expect_used)] // Test code: a panic is a failure report.

use std::time::{Duration, Instant};

use sluicegate_testkit::upgrading::{ECHO_END, read_to_end};
use sluicegate_testkit::{
    Backend, Echoed, Message, WAIT, WsClient, eventually, get, init_tracing, single_cluster,
    start_proxy, upgrade,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status code of a response head.
fn status(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_messages_are_echoed_both_ways_and_closed_by_handshake() {
    init_tracing();
    let backend = Backend::websocket();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut ws = WsClient::connect(proxy.addr(), "/chat").await;
    ws.echo(Message::text("hello")).await;
    ws.echo(Message::binary(vec![0u8, 159, 146, 150, 255]))
        .await;
    let big = "x".repeat(100_000);
    ws.echo(Message::text(big)).await;
    // While the tunnel is open it counts as in flight on its backend.
    let snapshot = proxy.snapshot();
    let cluster = snapshot.cluster("app").expect("cluster app");
    assert_eq!(
        cluster.backend(backend.addr()).map(|(_, b)| b.in_flight()),
        Some(1)
    );
    ws.close().await;
    assert!(
        eventually(WAIT, || cluster.in_flight() == 0).await,
        "the closed tunnel is still counted in flight"
    );
    assert_eq!(backend.request_lines(), ["GET /chat"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_101_nobody_asked_for_is_a_502() {
    init_tracing();
    let backend = Backend::answering(
        b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n",
    );
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let (plain, _, _) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(plain, 502);
    // Asked for another protocol than the one switched to: just as unasked.
    let (head, _, _) = upgrade(proxy.addr(), "/", "echo-test", b"").await;
    assert_eq!(status(&head), "502", "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_answered_plainly_is_no_tunnel_and_the_connection_stays_http() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    // A request pipelined right behind the upgrade request is read as a request once
    // the backend declined the upgrade (here: 404), never before.
    let next = format!("GET /after HTTP/1.1\r\nhost: {}\r\n\r\n", proxy.addr());
    let (head, mut stream, rest) =
        upgrade(proxy.addr(), "/status/404", "websocket", next.as_bytes()).await;
    assert_eq!(status(&head), "404", "{head}");
    assert!(!head.to_ascii_lowercase().contains("upgrade"), "{head}");
    let mut rest = rest;
    let body_and_next = loop {
        let text = String::from_utf8_lossy(&rest).into_owned();
        if text.matches("app").count() >= 2 {
            break text;
        }
        let mut buffer = [0u8; 4096];
        let n = sluicegate_testkit::within(WAIT, "the pipelined answer", stream.read(&mut buffer))
            .await
            .expect("reading the pipelined answer");
        assert!(n > 0, "closed before the pipelined answer: {text}");
        rest.extend_from_slice(&buffer[..n]);
    };
    assert!(body_and_next.contains("HTTP/1.1 200 OK"), "{body_and_next}");
    assert_eq!(backend.request_lines(), ["GET /status/404", "GET /after"]);
    // A 200 to an upgrade request is a plain answer too.
    let (head, _, _) = upgrade(proxy.addr(), "/", "websocket", b"").await;
    assert_eq!(status(&head), "200", "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_is_not_honoured_the_backend_gets_a_plain_request() {
    init_tracing();
    let backend = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let headers = [
        ("connection", "Upgrade, HTTP2-Settings"),
        ("upgrade", "h2c"),
        ("http2-settings", "AAMAAABkAARAAAAAAAIAAAAA"),
    ];
    let (code, response, body) = get(proxy.addr(), "/", &headers).await;
    assert_eq!(code, 200);
    assert!(!response.contains_key("upgrade"));
    let echoed = Echoed::parse(&body);
    for name in ["upgrade", "http2-settings"] {
        assert!(echoed.all(name).is_empty(), "{name} reached the backend");
    }
    assert!(
        echoed
            .all("connection")
            .iter()
            .all(|c| !c.contains("pgrade")),
        "{:?}",
        echoed.headers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_closed_tunnel_still_delivers_the_other_direction() {
    init_tracing();
    let backend = Backend::upgrading();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let (head, mut stream, rest) = upgrade(proxy.addr(), "/echo", "echo-test", b"early ").await;
    assert_eq!(status(&head), "101", "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: echo-test"),
        "{head}"
    );
    stream
        .write_all(b"ping")
        .await
        .expect("write to the tunnel");
    // The client is done sending: the backend sees the end, and still answers.
    stream
        .shutdown()
        .await
        .expect("shut down the client's side");
    let received = read_to_end(&mut stream, rest).await;
    let expected = [&b"early ping"[..], ECHO_END].concat();
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(&expected)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_after_the_101_are_never_read_as_requests() {
    init_tracing();
    let backend = Backend::upgrading();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    // Sent with the upgrade request, before any answer: a request head for the proxy
    // to route, and bytes its head guard would refuse. Both belong to the tunnel.
    let smuggled = b"GET /admin HTTP/1.1\r\nhost: x\r\n\r\nGET /#frag HTTP/9.9\r\n\r\n";
    let (head, mut stream, rest) = upgrade(proxy.addr(), "/", "echo-test", smuggled).await;
    assert_eq!(status(&head), "101", "{head}");
    stream
        .shutdown()
        .await
        .expect("shut down the client's side");
    let received = read_to_end(&mut stream, rest).await;
    assert_eq!(received, [&smuggled[..], ECHO_END].concat());
    assert_eq!(
        backend.request_lines(),
        ["GET /"],
        "one request reached the backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_tunnel_is_closed_after_the_listeners_tunnel_idle_timeout() {
    init_tracing();
    let backend = Backend::upgrading();
    let yaml = single_cluster(&[&backend], &[]).replace(
        "    address: 127.0.0.1:0\n",
        "    address: 127.0.0.1:0\n    tunnel_idle_timeout: 500ms\n",
    );
    let proxy = start_proxy(&yaml).await;
    let (head, mut stream, _) = upgrade(proxy.addr(), "/", "echo-test", b"").await;
    assert_eq!(status(&head), "101", "{head}");
    // Traffic keeps it open past the timeout …
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let mut last_echo = Instant::now();
    while started.elapsed() < Duration::from_millis(1200) {
        stream.write_all(b"k").await.expect("write to the tunnel");
        let read = sluicegate_testkit::within(WAIT, "the echo", stream.read_exact(&mut byte));
        read.await.expect("the tunnel closed while in use");
        last_echo = Instant::now();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // … and silence closes it, counted from the last byte (the proxy wrote the echo
    // a moment before the client read it: 100 ms of slack for a busy machine).
    let mut rest = Vec::new();
    let closed = sluicegate_testkit::within(WAIT, "the idle close", stream.read_to_end(&mut rest));
    closed.await.expect("the tunnel ended with an error");
    assert!(rest.is_empty(), "unexpected bytes: {rest:?}");
    let idle = last_echo.elapsed();
    assert!(
        idle >= Duration::from_millis(400),
        "closed {idle:?} after the last byte, before the idle timeout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_request_to_a_refusing_backend_goes_to_another_one() {
    init_tracing();
    let (dead, live) = (Backend::refusing(), Backend::websocket());
    let proxy = start_proxy(&single_cluster(&[&dead, &live], &[])).await;
    // Round robin starts with either backend; a refused connection was never sent, so
    // every handshake reaches the live one.
    for _ in 0..2 {
        let mut ws = WsClient::connect(proxy.addr(), "/").await;
        ws.echo(Message::text("up")).await;
        ws.close().await;
    }
    assert_eq!(live.requests(), 2);
    assert_eq!(dead.requests(), 0);
}

/// Writes `bytes` to `addr` in pieces of 1 to 7 bytes, half-closes if `half_close`,
/// and reads until the proxy closes (lossy UTF-8).
async fn trickle(addr: std::net::SocketAddr, bytes: &[u8], half_close: bool) -> String {
    sluicegate_testkit::within(WAIT * 2, "trickled exchange", async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (mut rest, mut size) = (bytes, 1);
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            stream.write_all(piece).await.expect("write a piece");
            tokio::task::yield_now().await;
            (rest, size) = (tail, size % 7 + 1);
        }
        if half_close {
            stream
                .shutdown()
                .await
                .expect("shut down the client's side");
        }
        let mut received = Vec::new();
        stream
            .read_to_end(&mut received)
            .await
            .expect("read to the end");
        String::from_utf8_lossy(&received).into_owned()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_heads_and_what_follows_them_split_anywhere_are_read_the_same() {
    init_tracing();
    let (named, upgrading) = (Backend::named("app"), Backend::upgrading());
    let plain = start_proxy(&single_cluster(&[&named], &[])).await;
    let ask = |addr, path: &str, protocol: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: upgrade\r\nupgrade: {protocol}\r\n\r\n"
        )
    };
    let declined = ask(plain.addr(), "/status/404", "websocket")
        + &format!(
            "GET /after HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
            plain.addr()
        );
    // Not half-closed: hyper takes a client's FIN while a request is in flight as the
    // client giving up on it, upgrade or not.
    let answer = trickle(plain.addr(), declined.as_bytes(), false).await;
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 1, "{answer}");
    assert_eq!(named.request_lines(), ["GET /status/404", "GET /after"]);

    let tunnel = start_proxy(&single_cluster(&[&upgrading], &[])).await;
    let data = "GET /not-a-request HTTP/1.1\r\n\r\nand more";
    let switched = ask(tunnel.addr(), "/", "echo-test") + data;
    let answer = trickle(tunnel.addr(), switched.as_bytes(), true).await;
    let (head, echoed) = answer.split_once("\r\n\r\n").unwrap_or_default();
    assert!(head.starts_with("HTTP/1.1 101 "), "{answer}");
    assert_eq!(
        echoed,
        format!("{data}{}", String::from_utf8_lossy(ECHO_END))
    );
    assert_eq!(upgrading.request_lines(), ["GET /"]);
}
