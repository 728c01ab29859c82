//! `ClientTls` against a server with a self-signed certificate: refused with the cause
//! in the message unless `ca:` names that certificate; `verify: false` connects.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sluicegate_tls::{Alpn, ClientParams, ClientTls, ServerTls};
use support::{EchoServer, STEP, cert_for, params, round_trip, temp_dir, write_pair};
use tokio::net::TcpStream;

/// A server for `upstream.test` and the path of its certificate file.
async fn upstream() -> (tempfile::TempDir, EchoServer, PathBuf) {
    let (guard, dir) = temp_dir();
    let pair = write_pair(&dir, "upstream", &cert_for(&["upstream.test"]));
    let tls = ServerTls::load(params("upstream", vec![pair.clone()], 0)).expect("load");
    (
        guard,
        EchoServer::start(tls, Duration::from_secs(10)).await,
        pair.cert,
    )
}

fn client(verify: bool, ca: Option<PathBuf>) -> Result<Arc<ClientTls>, String> {
    ClientTls::load(ClientParams {
        verify,
        ca,
        alpn: Vec::new(),
    })
}

async fn connect(
    tls: &ClientTls,
    server: &EchoServer,
    name: &str,
) -> std::io::Result<sluicegate_tls::ClientStream<TcpStream>> {
    let tcp = TcpStream::connect(server.addr).await?;
    tokio::time::timeout(STEP, tls.connect(name, tcp))
        .await
        .expect("bounded")
}

#[tokio::test]
async fn a_certificate_from_an_unknown_issuer_is_refused_with_the_cause() {
    let (guard, server, _) = upstream().await;
    let other = write_pair(guard.path(), "other", &cert_for(&["other.test"]));
    let tls = client(true, Some(other.cert)).expect("load");
    let error = connect(&tls, &server, "upstream.test")
        .await
        .expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("certificate verify failed: UnknownIssuer"),
        "{error}"
    );
}

#[tokio::test]
async fn a_ca_naming_the_certificate_lets_it_through() {
    let (_guard, server, cert) = upstream().await;
    let tls = client(true, Some(cert)).expect("load");
    let mut stream = connect(&tls, &server, "upstream.test")
        .await
        .expect("trusted");
    assert_eq!(round_trip(&mut stream, b"ping\n").await, b"ping\n");
}

#[tokio::test]
async fn a_trusted_certificate_for_another_name_is_refused_with_the_cause() {
    let (_guard, server, cert) = upstream().await;
    let tls = client(true, Some(cert)).expect("load");
    let error = connect(&tls, &server, "elsewhere.test")
        .await
        .expect_err("refused");
    let text = error.to_string();
    assert!(
        text.contains("certificate verify failed: certificate not valid for name"),
        "{text}"
    );
}

#[tokio::test]
async fn verify_false_connects_to_any_certificate() {
    let (_guard, server, _) = upstream().await;
    let tls = client(false, None).expect("load");
    let mut stream = connect(&tls, &server, "upstream.test")
        .await
        .expect("unverified");
    assert_eq!(round_trip(&mut stream, b"ping\n").await, b"ping\n");
}

#[tokio::test]
async fn the_system_roots_do_not_trust_a_self_signed_certificate() {
    let (_guard, server, _) = upstream().await;
    match client(true, None) {
        Ok(tls) => {
            let error = connect(&tls, &server, "upstream.test")
                .await
                .expect_err("refused");
            assert!(
                error
                    .to_string()
                    .contains("certificate verify failed: UnknownIssuer"),
                "{error}"
            );
        }
        // A machine without a CA bundle: the error says so.
        Err(message) => assert!(message.contains("no system root certificates"), "{message}"),
    }
}

#[tokio::test]
async fn alpn_is_offered_to_the_upstream() {
    let (_guard, mut server, cert) = upstream().await;
    let tls = ClientTls::load(ClientParams {
        verify: true,
        ca: Some(cert),
        alpn: vec![b"h2".to_vec()],
    })
    .expect("load");
    let stream = connect(&tls, &server, "upstream.test")
        .await
        .expect("trusted");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(server.next_seen().await.expect("server").0, Alpn::H2);
}

#[test]
fn a_ca_file_that_cannot_be_used_is_named() {
    let (_guard, dir) = temp_dir();
    let absent = dir.join("absent.pem");
    let message = client(true, Some(absent.clone())).expect_err("refused");
    let expected = format!(
        "cannot read {}: No such file or directory (os error 2)",
        absent.display()
    );
    assert_eq!(message, expected);
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").expect("empty");
    let message = client(true, Some(empty.clone())).expect_err("refused");
    assert_eq!(message, format!("{} holds no certificate", empty.display()));
}

#[tokio::test]
async fn an_invalid_server_name_is_refused_before_connecting() {
    let (_guard, server, cert) = upstream().await;
    let tls = client(true, Some(cert)).expect("load");
    let error = connect(&tls, &server, "not a name")
        .await
        .expect_err("refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
}
