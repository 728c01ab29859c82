//! SNI selection over real handshakes: exact names beat wildcards, a wildcard covers
//! one label, matching ignores case, and no SNI or an unknown name gets the default.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod support;

use std::time::Duration;

use sluicegate_tls::ServerTls;
use support::{
    Client, EchoServer, Pem, cert_for, cert_with_cn_only, params, served, temp_dir, write_pair,
};

/// The default (0), a wildcard (1), an exact name under the wildcard (2).
fn pems() -> [Pem; 3] {
    [
        cert_for(&["default.test"]),
        cert_for(&["*.example.com"]),
        cert_for(&["api.example.com"]),
    ]
}

async fn server_with_default(pems: &[Pem], default: usize) -> (tempfile::TempDir, EchoServer) {
    let (guard, dir) = temp_dir();
    let pairs = pems
        .iter()
        .enumerate()
        .map(|(i, pem)| write_pair(&dir, &format!("p{i}"), pem))
        .collect();
    let tls = ServerTls::load(params("sni", pairs, default)).expect("load");
    (guard, EchoServer::start(tls, Duration::from_secs(10)).await)
}

#[tokio::test]
async fn an_exact_name_beats_the_wildcard_that_covers_it() {
    let pems = pems();
    let (_dir, server) = server_with_default(&pems, 0).await;
    assert_eq!(
        served(server.addr, Some("api.example.com")).await,
        pems[2].der
    );
    assert_eq!(
        served(server.addr, Some("www.example.com")).await,
        pems[1].der
    );
    assert_eq!(served(server.addr, Some("default.test")).await, pems[0].der);
}

#[tokio::test]
async fn a_wildcard_covers_exactly_one_label() {
    let pems = pems();
    let (_dir, server) = server_with_default(&pems, 0).await;
    assert_eq!(
        served(server.addr, Some("a.example.com")).await,
        pems[1].der
    );
    assert_eq!(served(server.addr, Some("example.com")).await, pems[0].der);
    assert_eq!(
        served(server.addr, Some("a.b.example.com")).await,
        pems[0].der
    );
}

#[tokio::test]
async fn names_match_whatever_their_case() {
    let pems = pems();
    let (_dir, server) = server_with_default(&pems, 0).await;
    assert_eq!(
        served(server.addr, Some("API.Example.COM")).await,
        pems[2].der
    );
    assert_eq!(
        served(server.addr, Some("WWW.EXAMPLE.COM")).await,
        pems[1].der
    );
}

#[tokio::test]
async fn no_sni_and_unknown_names_get_the_default() {
    let pems = pems();
    let (_dir, server) = server_with_default(&pems, 1).await;
    assert_eq!(served(server.addr, None).await, pems[1].der);
    assert_eq!(
        served(server.addr, Some("elsewhere.test")).await,
        pems[1].der
    );
}

#[tokio::test]
async fn the_handshake_reports_the_name_the_client_sent() {
    let (_dir, mut server) = server_with_default(&pems(), 0).await;
    Client::sni(Some("Api.Example.com"))
        .connect(server.addr)
        .await
        .expect("handshake");
    let (_, sni) = server.next_seen().await.expect("handshake on the server");
    assert_eq!(sni.as_deref(), Some("api.example.com"));
    Client::sni(None)
        .connect(server.addr)
        .await
        .expect("handshake");
    let (_, sni) = server.next_seen().await.expect("handshake on the server");
    assert_eq!(sni, None);
}

#[tokio::test]
async fn a_certificate_without_dns_names_serves_its_common_name() {
    let pems = [
        cert_for(&["default.test"]),
        cert_with_cn_only("cn-only.test"),
    ];
    let (_dir, server) = server_with_default(&pems, 0).await;
    assert_eq!(served(server.addr, Some("cn-only.test")).await, pems[1].der);
}
