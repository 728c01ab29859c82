//! `protocol: tcp` over real sockets: bytes both ways in bulk and in parallel, a
//! half-close passed on, a backend that speaks first, failover past a refusing
//! backend, ring-hash stickiness by source address, a session kept across reloads,
//! the idle timeout, a removed listener's sessions closed after its drain, and open
//! sessions held against the listener's connection limit.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::SocketAddr;
use std::time::Duration;

use sluicegate_testkit::{Backend, WAIT, eventually, init_tracing, start_proxy, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A config with tcp listener `db` on cluster `db` of `backends` under `policy`,
/// and `extra` YAML under the listener.
fn tcp_config(backends: &[SocketAddr], policy: &str, extra: &str) -> String {
    let mut yaml = format!(
        "drain_timeout: 1s\nlisteners:\n  db:\n    address: 127.0.0.1:0\n    protocol: tcp\n    cluster: db\n{extra}clusters:\n  db:\n    policy: {policy}\n    connect_timeout: 2s\n    backends:\n"
    );
    for addr in backends {
        yaml.push_str(&format!("      - address: {addr}\n"));
    }
    yaml
}

/// Sends `line` on `stream` and reads its echo back.
async fn echo_line(stream: &mut TcpStream, line: &[u8]) -> Vec<u8> {
    within(WAIT, "echo", async {
        stream.write_all(line).await?;
        let mut back = vec![0u8; line.len()];
        stream.read_exact(&mut back).await?;
        Ok::<_, std::io::Error>(back)
    })
    .await
    .unwrap()
}

fn pattern(seed: usize, i: usize) -> u8 {
    (i.wrapping_mul(31).wrapping_add(seed * 7) % 251) as u8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_each_way_over_sixteen_connections_arrive_intact() {
    init_tracing();
    let echo = Backend::tcp_echo();
    let proxy = start_proxy(&tcp_config(&[echo.addr()], "least_connections", "")).await;
    let addr = proxy.listener("db");
    const PER_CONNECTION: usize = 4 << 20;
    let sessions = (0..16).map(|seed| {
        tokio::spawn(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut reader, mut writer) = stream.into_split();
            let write = tokio::spawn(async move {
                let chunk: Vec<u8> = (0..PER_CONNECTION).map(|i| pattern(seed, i)).collect();
                for piece in chunk.chunks(64 * 1024) {
                    writer.write_all(piece).await.unwrap();
                }
                writer.shutdown().await.unwrap();
            });
            let mut got = 0usize;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = reader.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                for (k, byte) in buf[..n].iter().enumerate() {
                    assert_eq!(
                        *byte,
                        pattern(seed, got + k),
                        "connection {seed}, byte {}",
                        got + k
                    );
                }
                got += n;
            }
            write.await.unwrap();
            got
        })
    });
    let all = within(Duration::from_secs(120), "64 MiB echoed", async {
        let mut total = 0;
        for session in sessions {
            total += session.await.map_err(std::io::Error::other)?;
        }
        Ok::<_, std::io::Error>(total)
    })
    .await
    .unwrap();
    assert_eq!(all, 16 * PER_CONNECTION);
}

#[tokio::test]
async fn a_client_half_close_reaches_the_backend_and_its_answer_still_flows() {
    init_tracing();
    let echo = Backend::tcp_echo();
    let proxy = start_proxy(&tcp_config(&[echo.addr()], "round_robin", "")).await;
    let mut stream = TcpStream::connect(proxy.listener("db")).await.unwrap();
    stream.write_all(b"last words").await.unwrap();
    stream.shutdown().await.unwrap();
    // The echo backend answers only once it has read the FIN, then closes.
    let mut answer = Vec::new();
    within(WAIT, "echo after FIN", stream.read_to_end(&mut answer))
        .await
        .unwrap();
    assert_eq!(answer, b"last words");
}

#[tokio::test]
async fn a_banner_is_relayed_before_the_client_sends_a_byte() {
    init_tracing();
    let smtp = Backend::banner("220 mail.example ESMTP\r\n");
    let proxy = start_proxy(&tcp_config(&[smtp.addr()], "round_robin", "")).await;
    let mut stream = TcpStream::connect(proxy.listener("db")).await.unwrap();
    let mut banner = [0u8; 24];
    within(WAIT, "banner", stream.read_exact(&mut banner))
        .await
        .unwrap();
    assert_eq!(&banner, b"220 mail.example ESMTP\r\n");
    assert_eq!(echo_line(&mut stream, b"EHLO x\r\n").await, b"EHLO x\r\n");
}

#[tokio::test]
async fn a_refusing_backend_is_passed_over_for_the_next() {
    init_tracing();
    let refusing = Backend::refusing();
    let echo = Backend::tcp_echo();
    let proxy = start_proxy(&tcp_config(
        &[refusing.addr(), echo.addr()],
        "round_robin",
        "",
    ))
    .await;
    for i in 0..6u8 {
        let mut stream = TcpStream::connect(proxy.listener("db")).await.unwrap();
        assert_eq!(echo_line(&mut stream, &[b'a' + i]).await, [b'a' + i]);
    }
    assert_eq!(echo.accepts(), 6);
}

/// The banner a connection from `source` gets.
async fn banner_from(proxy: SocketAddr, source: &str) -> Vec<u8> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    let mut stream = within(WAIT, "connect", socket.connect(proxy))
        .await
        .unwrap();
    let mut banner = [0u8; 2];
    within(WAIT, "banner", stream.read_exact(&mut banner))
        .await
        .unwrap();
    banner.to_vec()
}

#[tokio::test]
async fn ring_hash_keeps_each_source_address_on_one_backend() {
    init_tracing();
    let backends = [
        Backend::banner("b0"),
        Backend::banner("b1"),
        Backend::banner("b2"),
        Backend::banner("b3"),
    ];
    let addrs: Vec<SocketAddr> = backends.iter().map(Backend::addr).collect();
    let proxy = start_proxy(&tcp_config(&addrs, "ring_hash", "")).await;
    let mut seen = std::collections::BTreeSet::new();
    for source in [
        "127.0.0.1",
        "127.0.0.2",
        "127.0.0.3",
        "127.0.0.4",
        "127.0.0.5",
    ] {
        let first = banner_from(proxy.listener("db"), source).await;
        for _ in 0..4 {
            assert_eq!(
                banner_from(proxy.listener("db"), source).await,
                first,
                "{source}"
            );
        }
        seen.insert(first);
    }
    // Five sources over four backends: the hash spreads them, not one for all.
    assert!(seen.len() >= 2, "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_kept_across_five_reloads_and_closed_with_its_listener() {
    init_tracing();
    let echo = Backend::tcp_echo();
    let other = Backend::tcp_echo();
    let proxy = start_proxy(&tcp_config(&[echo.addr()], "round_robin", "")).await;
    let mut stream = TcpStream::connect(proxy.listener("db")).await.unwrap();
    assert_eq!(echo_line(&mut stream, b"before").await, b"before");
    let generation = proxy.generation();
    for turn in 0..5 {
        // Each reload changes the cluster (policy, a second backend on and off)
        // and keeps the session's listener and backend.
        let policy = ["least_connections", "random"][turn % 2];
        let backends = if turn % 2 == 0 {
            vec![echo.addr(), other.addr()]
        } else {
            vec![echo.addr()]
        };
        proxy
            .apply(&tcp_config(&backends, policy, "    idle_timeout: 10m\n"))
            .await;
        assert_eq!(
            echo_line(&mut stream, format!("turn {turn}").as_bytes()).await,
            format!("turn {turn}").as_bytes()
        );
    }
    assert_eq!(proxy.generation(), generation + 5);
    // A reload that removes the listener: the session drains for drain_timeout (1s),
    // then is closed.
    let without = format!(
        "drain_timeout: 1s\nlisteners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: db\nclusters:\n  db:\n    backends:\n      - address: {}\n",
        echo.addr()
    );
    proxy.apply(&without).await;
    assert_eq!(echo_line(&mut stream, b"draining").await, b"draining");
    let mut rest = Vec::new();
    within(
        WAIT,
        "closed after the drain",
        stream.read_to_end(&mut rest),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_silent_session_is_closed_at_its_idle_timeout() {
    init_tracing();
    let echo = Backend::tcp_echo();
    let proxy = start_proxy(&tcp_config(
        &[echo.addr()],
        "round_robin",
        "    idle_timeout: 300ms\n",
    ))
    .await;
    let mut stream = TcpStream::connect(proxy.listener("db")).await.unwrap();
    assert_eq!(echo_line(&mut stream, b"x").await, b"x");
    let mut rest = Vec::new();
    within(WAIT, "idle close", stream.read_to_end(&mut rest))
        .await
        .unwrap();
    assert!(rest.is_empty());
    let snapshot = proxy.snapshot();
    let cluster = snapshot.cluster("db").unwrap();
    let (_, backend) = cluster.backend(echo.addr()).unwrap();
    assert!(eventually(WAIT, || backend.in_flight() == 0).await);
}

#[tokio::test]
async fn open_sessions_count_against_the_listeners_limit_until_they_close() {
    init_tracing();
    let echo = Backend::tcp_echo();
    let limited = tcp_config(&[echo.addr()], "round_robin", "    max_connections: 2\n");
    let proxy = start_proxy(&limited).await;
    let addr = proxy.listener("db");
    let mut first = TcpStream::connect(addr).await.unwrap();
    assert_eq!(echo_line(&mut first, b"1").await, b"1");
    let mut second = TcpStream::connect(addr).await.unwrap();
    assert_eq!(echo_line(&mut second, b"2").await, b"2");
    // Both sessions run in tasks of their own, past the accept's: they still hold
    // the listener's two connections, so a third is closed unserved.
    let mut third = TcpStream::connect(addr).await.unwrap();
    let _ = third.write_all(b"3").await;
    let mut rest = Vec::new();
    let _ = within(WAIT, "the third closed", third.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "a third session was served: {rest:?}");
    drop(first);
    // Once the first has closed, a new session is served.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut next = TcpStream::connect(addr).await.unwrap();
        let _ = next.write_all(b"4").await;
        let mut back = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(500), next.read(&mut back)).await;
        if matches!(read, Ok(Ok(1))) {
            assert_eq!(&back, b"4");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no session served after one closed"
        );
    }
    assert_eq!(echo_line(&mut second, b"still").await, b"still");
}
