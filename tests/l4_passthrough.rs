//! `protocol: tls_passthrough` over real sockets: TLS backends with certificates of
//! their own, reached by the ClientHello's server name (exact, wildcard, default, no
//! SNI), the handshake done end to end with the backend (the client checks the
//! backend's certificate), a ClientHello split over three segments, and garbage
//! instead of a ClientHello closed before any backend is reached.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sluicegate_testkit::{Backend, TestCert, WAIT, init_tracing, start_proxy, tls_connect, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Tiers {
    api: (TestCert, Backend),
    wild: (TestCert, Backend),
    default: (TestCert, Backend),
}

fn tiers() -> Tiers {
    let tier = |names: &[&str]| {
        let cert = TestCert::new(names);
        let backend = Backend::tls_echo(&cert, false);
        (cert, backend)
    };
    Tiers {
        api: tier(&["api.example.com"]),
        wild: tier(&["*.example.com"]),
        default: tier(&["other.org", "127.0.0.1"]),
    }
}

fn config(t: &Tiers, default: bool) -> String {
    let default = if default {
        "    default_cluster: fallback\n"
    } else {
        ""
    };
    format!(
        "listeners:\n  edge:\n    address: 127.0.0.1:0\n    protocol: tls_passthrough\n    handshake_timeout: 2s\n    routes:\n      - {{ match: {{ sni: \"*.example.com\" }}, cluster: wild }}\n      - {{ match: {{ sni: api.example.com }}, cluster: api }}\n{default}clusters:\n  api:\n    backends: [{{ address: {} }}]\n  wild:\n    backends: [{{ address: {} }}]\n  fallback:\n    backends: [{{ address: {} }}]\n",
        t.api.1.addr(),
        t.wild.1.addr(),
        t.default.1.addr()
    )
}

/// A TLS handshake through the proxy as `sni`, trusting only `cert`, then one HTTP
/// request over it: the backend's echo answers.
async fn through(addr: SocketAddr, sni: &str, cert: &TestCert) -> std::io::Result<String> {
    let mut served = tls_connect(addr, sni, &[b"http/1.1"], &[cert]).await?;
    assert_eq!(
        served.leaf, cert.der,
        "{sni}: the backend's own certificate"
    );
    within(WAIT, "request over passthrough", async {
        served
            .stream
            .write_all(b"GET /through HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        served.stream.read_to_end(&mut answer).await?;
        Ok(String::from_utf8_lossy(&answer).into_owned())
    })
    .await
}

#[tokio::test]
async fn exact_names_beat_wildcards_and_the_rest_goes_to_the_default() {
    init_tracing();
    let t = tiers();
    let proxy = start_proxy(&config(&t, true)).await;
    let edge = proxy.listener("edge");
    let answer = through(edge, "api.example.com", &t.api.0).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("/through"), "{answer}");
    through(edge, "www.example.com", &t.wild.0).await.unwrap();
    through(edge, "other.org", &t.default.0).await.unwrap();
    // An IP literal sends no SNI: the default cluster.
    through(edge, "127.0.0.1", &t.default.0).await.unwrap();
    assert_eq!(
        (t.api.1.accepts(), t.wild.1.accepts(), t.default.1.accepts()),
        (1, 1, 2)
    );
}

#[tokio::test]
async fn without_a_default_an_unknown_name_or_no_name_is_closed() {
    init_tracing();
    let t = tiers();
    let proxy = start_proxy(&config(&t, false)).await;
    let edge = proxy.listener("edge");
    assert!(through(edge, "other.org", &t.default.0).await.is_err());
    assert!(through(edge, "127.0.0.1", &t.default.0).await.is_err());
    through(edge, "api.example.com", &t.api.0).await.unwrap();
    assert_eq!(t.default.1.accepts(), 0);
}

#[tokio::test]
async fn garbage_instead_of_a_client_hello_is_closed_before_any_backend() {
    init_tracing();
    let t = tiers();
    let proxy = start_proxy(&config(&t, true)).await;
    let mut stream = TcpStream::connect(proxy.listener("edge")).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let _ = within(WAIT, "garbage closed", stream.read_to_end(&mut rest)).await;
    assert!(rest.is_empty());
    assert_eq!(
        t.default.1.accepts() + t.api.1.accepts() + t.wild.1.accepts(),
        0
    );
}

/// A rustls client for `name` trusting `cert`, driven by hand over a blocking socket.
fn handshake_in_three_segments(addr: SocketAddr, name: &str, cert: &TestCert) -> Vec<u8> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let server = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    let third = hello.len() / 3;
    for piece in [&hello[..3], &hello[3..third], &hello[third..]] {
        tcp.write_all(piece).unwrap();
        tcp.flush().unwrap();
        // Spaced, so each piece leaves as a segment of its own.
        std::thread::sleep(Duration::from_millis(30));
    }
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    tls.write_all(b"GET /split HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_hello_in_three_segments_is_routed_by_its_name() {
    init_tracing();
    let t = tiers();
    let proxy = start_proxy(&config(&t, false)).await;
    let edge = proxy.listener("edge");
    let cert = t.api.0.clone();
    let answer = tokio::task::spawn_blocking(move || {
        handshake_in_three_segments(edge, "api.example.com", &cert)
    })
    .await
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.contains("/split"),
        "{answer}"
    );
}
