//! The PROXY protocol over real sockets: v1 and v2 headers (IPv4 and IPv6) read on a
//! tcp listener and the client they name sent on to the backend in the cluster's
//! version; the real peer sent when no header came in; a header from a peer outside
//! `trusted` refused; on an http listener the named client in `X-Forwarded-For`; and
//! a cluster behind an http listener that sends the header, on connections kept by
//! client.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sluicegate_core::ProxyVersion;
use sluicegate_testkit::{Backend, WAIT, init_tracing, start_proxy, within};
use sluicegate_transport::proxy_header;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(backend: &Backend, accept: Option<&str>, send: &str) -> String {
    let accept = accept.map_or(String::new(), |trusted| {
        format!("    proxy_protocol: {{ accept: true, trusted: [{trusted}] }}\n")
    });
    format!(
        "listeners:\n  db:\n    address: 127.0.0.1:0\n    protocol: tcp\n    cluster: db\n{accept}clusters:\n  db:\n    send_proxy_protocol: {send}\n    backends: [{{ address: {} }}]\n",
        backend.addr()
    )
}

/// Connects to `addr`, sends `first` then `hello`, and reads the backend's first
/// line and the echo of `hello`.
async fn exchange(addr: SocketAddr, first: &[u8]) -> std::io::Result<String> {
    within(WAIT, "exchange", async {
        let mut stream = TcpStream::connect(addr).await?;
        stream.write_all(first).await?;
        stream.write_all(b"hello").await?;
        stream.shutdown().await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    })
    .await
}

#[tokio::test]
async fn both_versions_and_families_in_reach_the_backend_in_the_clusters_version() {
    init_tracing();
    let backend = Backend::proxy_reading();
    let cases = [
        ("203.0.113.9:4000", "10.0.0.1:5432"),
        ("[2001:db8::9]:4000", "[2001:db8::1]:5432"),
    ];
    for send in ["v1", "v2"] {
        let proxy = start_proxy(&config(&backend, Some("127.0.0.1"), send)).await;
        for incoming in [ProxyVersion::V1, ProxyVersion::V2] {
            for (source, destination) in cases {
                let (s, d) = (source.parse().unwrap(), destination.parse().unwrap());
                let header = proxy_header(incoming, s, d).unwrap();
                let answer = exchange(proxy.listener("db"), &header).await.unwrap();
                assert_eq!(
                    answer,
                    format!("{s} {d}\nhello"),
                    "in {incoming:?}, out {send}"
                );
            }
        }
    }
}

#[tokio::test]
async fn without_a_header_in_the_backend_is_told_the_real_peer() {
    init_tracing();
    let backend = Backend::proxy_reading();
    let proxy = start_proxy(&config(&backend, None, "v1")).await;
    let answer = exchange(proxy.listener("db"), b"").await.unwrap();
    let listener = proxy.listener("db");
    assert!(answer.starts_with("127.0.0.1:"), "{answer}");
    assert!(answer.ends_with(&format!(" {listener}\nhello")), "{answer}");
}

#[tokio::test]
async fn a_header_from_an_untrusted_peer_is_refused() {
    init_tracing();
    let backend = Backend::proxy_reading();
    let proxy = start_proxy(&config(&backend, Some("10.0.0.0/8"), "v2")).await;
    let spoofed = b"PROXY TCP4 198.51.100.1 10.0.0.1 1 2\r\n";
    let answer = exchange(proxy.listener("db"), spoofed).await;
    assert!(answer.as_ref().map_or(true, String::is_empty), "{answer:?}");
    assert_eq!(backend.accepts(), 0);
}

#[tokio::test]
async fn an_http_listener_forwards_the_named_client() {
    init_tracing();
    let echo = Backend::echo();
    let yaml = format!(
        "listeners:\n  web:\n    address: 127.0.0.1:0\n    proxy_protocol: {{ accept: true, trusted: [127.0.0.1] }}\n    routes:\n      - cluster: app\nclusters:\n  app:\n    backends: [{{ address: {} }}]\n",
        echo.addr()
    );
    let proxy = start_proxy(&yaml).await;
    let header = proxy_header(
        ProxyVersion::V2,
        "192.0.2.44:5555".parse().unwrap(),
        "10.1.1.1:80".parse().unwrap(),
    )
    .unwrap();
    let mut request = header;
    request.extend_from_slice(b"GET /who HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let answer = within(WAIT, "http after a PROXY header", async {
        let mut stream = TcpStream::connect(proxy.listener("web")).await?;
        stream.write_all(&request).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&answer).to_lowercase())
    })
    .await
    .unwrap();
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    assert!(answer.contains("x-forwarded-for: 192.0.2.44"), "{answer}");
    // A client without the header is cut: the listener expects one from everyone.
    let plain = within(WAIT, "http without a header", async {
        let mut stream = TcpStream::connect(proxy.listener("web")).await?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        Ok::<_, std::io::Error>(answer)
    })
    .await
    .unwrap();
    assert!(plain.is_empty());
}

/// An HTTP/1.1 backend that reads a PROXY header first on each connection, then
/// answers every request on it (keep-alive, no bodies) with
/// `<source> <destination> #<n>`: the client the header named and the request's
/// number on that connection. Returns its address and its count of connections.
async fn proxy_reading_http() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(header) = sluicegate_transport::read_proxy_header(&mut stream).await else {
                    return;
                };
                let named = match header.addresses {
                    Some((source, destination)) => format!("{source} {destination}"),
                    None => "local".to_owned(),
                };
                let mut read = header.rest.to_vec();
                let mut buf = [0u8; 4096];
                for n in 1.. {
                    while !read.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(got) => read.extend_from_slice(&buf[..got]),
                        }
                    }
                    let end = read.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    read.drain(..end);
                    let body = format!("{named} #{n}");
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, connections)
}

/// Sends `GET /` on `stream` and reads the response's body (`content-length` framed).
async fn get(stream: &mut TcpStream) -> String {
    within(WAIT, "a response", async {
        stream
            .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await?;
        let mut read = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            assert!(
                n > 0,
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&read)
            );
            read.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&read).to_lowercase();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: ")?.trim().parse().ok())
                    .unwrap();
                if body.len() >= length {
                    assert!(head.starts_with("http/1.1 200"), "{text}");
                    return Ok::<_, std::io::Error>(body[..length].to_owned());
                }
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn http_requests_reach_the_backend_on_connections_of_their_own_client() {
    init_tracing();
    let (backend, connections) = proxy_reading_http().await;
    let yaml = format!(
        "listeners:\n  web:\n    address: 127.0.0.1:0\n    proxy_protocol: {{ accept: true, trusted: [127.0.0.1] }}\n    routes:\n      - cluster: app\nclusters:\n  app:\n    send_proxy_protocol: v2\n    backends: [{{ address: {backend} }}]\n"
    );
    let proxy = start_proxy(&yaml).await;
    // Two clients, as an L4 tier in front names them.
    let open = |source: &str| {
        let header = proxy_header(
            ProxyVersion::V2,
            source.parse().unwrap(),
            "10.0.0.1:80".parse().unwrap(),
        )
        .unwrap();
        let addr = proxy.listener("web");
        async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(&header).await.unwrap();
            stream
        }
    };
    let mut first = open("192.0.2.1:1111").await;
    let mut second = open("198.51.100.2:2222").await;
    assert_eq!(get(&mut first).await, "192.0.2.1:1111 10.0.0.1:80 #1");
    assert_eq!(get(&mut second).await, "198.51.100.2:2222 10.0.0.1:80 #1");
    // Each client's next requests reuse its own connection, never the other's.
    assert_eq!(get(&mut first).await, "192.0.2.1:1111 10.0.0.1:80 #2");
    assert_eq!(get(&mut second).await, "198.51.100.2:2222 10.0.0.1:80 #2");
    assert_eq!(get(&mut first).await, "192.0.2.1:1111 10.0.0.1:80 #3");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}
