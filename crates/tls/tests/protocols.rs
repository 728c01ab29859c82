//! What a handshake negotiates: ALPN in the listener's preference order, and only the
//! TLS versions the listener allows.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod support;

use std::time::Duration;

use rustls::ProtocolVersion;
use sluicegate_tls::{Alpn, MinVersion, ServerTls};
use support::{Client, EchoServer, cert_for, params, temp_dir, write_pair};

async fn server(min_version: MinVersion) -> (tempfile::TempDir, EchoServer) {
    let (guard, dir) = temp_dir();
    let pair = write_pair(&dir, "site", &cert_for(&["site.test"]));
    let mut params = params("protocols", vec![pair], 0);
    params.min_version = min_version;
    let tls = ServerTls::load(params).expect("load");
    (guard, EchoServer::start(tls, Duration::from_secs(10)).await)
}

fn offering(alpn: &[&[u8]]) -> Client {
    let mut client = Client::sni(Some("site.test"));
    client.alpn = alpn.iter().map(|p| p.to_vec()).collect();
    client
}

#[tokio::test]
async fn alpn_negotiates_h2_when_the_client_offers_it() {
    let (_dir, mut server) = server(MinVersion::Tls12).await;
    let served = offering(&[b"h2", b"http/1.1"])
        .connect(server.addr)
        .await
        .expect("handshake");
    assert_eq!(served.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(server.next_seen().await.expect("server").0, Alpn::H2);
}

#[tokio::test]
async fn alpn_negotiates_http1_for_a_client_without_h2() {
    let (_dir, mut server) = server(MinVersion::Tls12).await;
    let served = offering(&[b"http/1.1"])
        .connect(server.addr)
        .await
        .expect("handshake");
    assert_eq!(served.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(server.next_seen().await.expect("server").0, Alpn::Http1);
}

#[tokio::test]
async fn the_listener_s_preference_order_wins() {
    let (_dir, mut server) = server(MinVersion::Tls12).await;
    let served = offering(&[b"http/1.1", b"h2"])
        .connect(server.addr)
        .await
        .expect("handshake");
    assert_eq!(served.alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(server.next_seen().await.expect("server").0, Alpn::H2);
}

#[tokio::test]
async fn a_client_without_alpn_negotiates_none() {
    let (_dir, mut server) = server(MinVersion::Tls12).await;
    let served = offering(&[]).connect(server.addr).await.expect("handshake");
    assert_eq!(served.alpn, None);
    assert_eq!(server.next_seen().await.expect("server").0, Alpn::None);
}

#[tokio::test]
async fn min_version_1_3_refuses_a_tls_1_2_client() {
    let (_dir, mut server) = server(MinVersion::Tls13).await;
    let mut old = Client::sni(Some("site.test"));
    old.versions = vec![&rustls::version::TLS12];
    let error = old
        .connect(server.addr)
        .await
        .err()
        .expect("a TLS 1.2 client is refused");
    assert!(error.to_string().contains("alert"), "{error}");
    let seen = server.next_seen().await.expect_err("the server refuses it");
    assert!(seen.starts_with("Io("), "{seen}");
    let modern = Client::sni(Some("site.test"))
        .connect(server.addr)
        .await
        .expect("TLS 1.3");
    let version = modern.stream.get_ref().1.protocol_version();
    assert_eq!(version, Some(ProtocolVersion::TLSv1_3));
}

#[tokio::test]
async fn min_version_1_2_accepts_a_tls_1_2_client() {
    let (_dir, server) = server(MinVersion::Tls12).await;
    let mut old = Client::sni(Some("site.test"));
    old.versions = vec![&rustls::version::TLS12];
    let served = old.connect(server.addr).await.expect("TLS 1.2 is accepted");
    let version = served.stream.get_ref().1.protocol_version();
    assert_eq!(version, Some(ProtocolVersion::TLSv1_2));
}
