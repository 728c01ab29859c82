//! `ServerTls::accept` under a timeout: a client that stalls mid-handshake is given up
//! on with `HandshakeError::Timeout` while other handshakes on the same `ServerTls`
//! complete; a client that is not speaking TLS fails at once with an I/O error. Each
//! failure is counted by reason.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod support;

use std::sync::Arc;
use std::time::Duration;

use sluicegate_tls::{HandshakeError, ServerTls};
use support::{Client, Metrics, STEP, cert_for, params, temp_dir, write_pair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Short, so the test is quick; a normal handshake on loopback needs milliseconds.
const HANDSHAKE: Duration = Duration::from_millis(800);

async fn site(
    listener: &str,
    metrics: &Metrics,
) -> (tempfile::TempDir, Arc<ServerTls>, TcpListener) {
    let (guard, dir) = temp_dir();
    let pairs = vec![write_pair(&dir, "s", &cert_for(&["s.test"]))];
    let tls = metrics.load(params(listener, pairs, 0));
    let socket = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    (guard, tls, socket)
}

/// A client that sends one byte of a TLS record header and then nothing, and the
/// server's handshake with it (timeout [`HANDSHAKE`]) on a task.
async fn stalled(
    tls: &Arc<ServerTls>,
    socket: &TcpListener,
) -> (TcpStream, JoinHandle<Result<(), HandshakeError>>) {
    let mut client = TcpStream::connect(socket.local_addr().expect("addr"))
        .await
        .expect("connect");
    client.write_all(&[0x16]).await.expect("one byte");
    let (server_side, _) = socket.accept().await.expect("accept");
    let tls = tls.clone();
    let handshake =
        tokio::spawn(async move { tls.accept(server_side, HANDSHAKE).await.map(|_| ()) });
    (client, handshake)
}

/// A normal client's handshake with `tls`, both sides; the SNI the server saw.
async fn normal(tls: &ServerTls, socket: &TcpListener) -> Option<String> {
    let addr = socket.local_addr().expect("addr");
    let client =
        tokio::spawn(async move { Client::sni(Some("s.test")).connect(addr).await.map(|_| ()) });
    let (server_side, _) = tokio::time::timeout(STEP, socket.accept())
        .await
        .expect("in time")
        .expect("accept");
    let done = tls
        .accept(server_side, STEP)
        .await
        .expect("a normal handshake completes");
    let client = tokio::time::timeout(STEP, client)
        .await
        .expect("in time")
        .expect("task");
    client.expect("the client's side completes");
    done.sni
}

#[tokio::test]
async fn a_stalled_handshake_times_out_while_a_normal_one_completes() {
    let metrics = Metrics::new();
    let (_guard, tls, socket) = site("stall", &metrics).await;
    let (mut client, handshake) = stalled(&tls, &socket).await;
    assert_eq!(normal(&tls, &socket).await.as_deref(), Some("s.test"));

    let outcome = tokio::time::timeout(STEP, handshake)
        .await
        .expect("bounded")
        .expect("task");
    assert!(
        matches!(outcome, Err(HandshakeError::Timeout)),
        "{outcome:?}"
    );
    let message = outcome.err().map(|e| e.to_string());
    assert_eq!(message.as_deref(), Some("TLS handshake timed out"));
    assert_eq!(metrics.handshake_errors("stall", "timeout"), 1);
    assert_eq!(metrics.handshake_errors("stall", "error"), 0);
    // The server dropped the stalled connection.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(STEP, client.read_to_end(&mut rest))
        .await
        .expect("closed in time");
    assert!(read.is_err() || rest.is_empty(), "{read:?} {rest:?}");
}

#[tokio::test]
async fn a_client_not_speaking_tls_fails_with_an_io_error() {
    let metrics = Metrics::new();
    let (_guard, tls, socket) = site("plain", &metrics).await;
    let mut plain = TcpStream::connect(socket.local_addr().expect("addr"))
        .await
        .expect("connect");
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: s.test\r\n\r\n")
        .await
        .expect("write");
    let (server_side, _) = socket.accept().await.expect("accept");
    let outcome = tls.accept(server_side, STEP).await.map(|_| ());
    assert!(matches!(outcome, Err(HandshakeError::Io(_))), "{outcome:?}");
    assert_eq!(metrics.handshake_errors("plain", "error"), 1);
}
