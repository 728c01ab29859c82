//! `ServerTls::accept` under a timeout: a client that stalls mid-handshake is given up
//! on with `HandshakeError::Timeout` while other handshakes on the same `ServerTls`
//! complete; a client that is not speaking TLS fails at once with an I/O error.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod support;

use std::time::Duration;

use sluicegate_tls::{HandshakeError, ServerTls};
use support::{Client, STEP, cert_for, params, temp_dir, write_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Short, so the test is quick; a normal handshake on loopback needs milliseconds.
const HANDSHAKE: Duration = Duration::from_millis(800);

#[tokio::test]
async fn a_stalled_handshake_times_out_while_a_normal_one_completes() {
    let (_guard, dir) = temp_dir();
    let tls = ServerTls::load(params(
        "stall",
        vec![write_pair(&dir, "s", &cert_for(&["s.test"]))],
        0,
    ))
    .expect("load");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");

    // The stalling client: one byte of a TLS record header, then nothing.
    let mut stalled = TcpStream::connect(addr).await.expect("connect");
    stalled.write_all(&[0x16]).await.expect("one byte");
    let (stalled_side, _) = listener.accept().await.expect("accept");
    let stalled_tls = tls.clone();
    let stalled_handshake = tokio::spawn(async move {
        stalled_tls
            .accept(stalled_side, HANDSHAKE)
            .await
            .map(|_| ())
    });

    // A normal client while that one stalls, on the same ServerTls.
    let client =
        tokio::spawn(async move { Client::sni(Some("s.test")).connect(addr).await.map(|_| ()) });
    let (normal_side, _) = tokio::time::timeout(STEP, listener.accept())
        .await
        .expect("in time")
        .expect("accept");
    let normal = tls
        .accept(normal_side, STEP)
        .await
        .expect("a normal handshake completes");
    assert_eq!(normal.sni.as_deref(), Some("s.test"));
    tokio::time::timeout(STEP, client)
        .await
        .expect("in time")
        .expect("task")
        .expect("client");

    let outcome = tokio::time::timeout(STEP, stalled_handshake)
        .await
        .expect("bounded")
        .expect("task");
    assert!(
        matches!(outcome, Err(HandshakeError::Timeout)),
        "{outcome:?}"
    );
    assert_eq!(
        outcome.err().map(|e| e.to_string()).as_deref(),
        Some("TLS handshake timed out")
    );
    // The server dropped the stalled connection.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(STEP, stalled.read_to_end(&mut rest))
        .await
        .expect("closed in time");
    assert!(read.is_err() || rest.is_empty(), "{read:?} {rest:?}");
}

#[tokio::test]
async fn a_client_not_speaking_tls_fails_with_an_io_error() {
    let (_guard, dir) = temp_dir();
    let tls = ServerTls::load(params(
        "plain",
        vec![write_pair(&dir, "s", &cert_for(&["s.test"]))],
        0,
    ))
    .expect("load");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let mut plain = TcpStream::connect(listener.local_addr().expect("addr"))
        .await
        .expect("connect");
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: s.test\r\n\r\n")
        .await
        .expect("write");
    let (server_side, _) = listener.accept().await.expect("accept");
    let outcome = tls.accept(server_side, STEP).await.map(|_| ());
    assert!(matches!(outcome, Err(HandshakeError::Io(_))), "{outcome:?}");
}
