//! Responses cut short, on a real process, and counted where they were cut: by the
//! client side's `send_timeout` (a client that stops reading a large download, or an
//! HTTP/2 client that grants it no window: `sluicegate_downstream_send_timeouts_total`), or by the backend side, a body that
//! stalls past `response_body_timeout` or stops at a close
//! (`sluicegate_upstream_body_errors_total{reason}`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::TcpStream;

use sluicegate_testkit::h2_frames::kind;
use sluicegate_testkit::{Backend, Detached, PROCESS_WAIT, ProcessProxy, RawH2, free_port, poll};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

/// The send timeouts counted on the listener of [`sending_to_a_sink`].
const SEND_TIMEOUTS: &str = "sluicegate_downstream_send_timeouts_total{listener=\"web\"} ";

/// A process whose listener (`web`, `send_timeout: 1s`) sends to a sink backend:
/// the backend's host, the config's directory, the listener's address, the process.
fn sending_to_a_sink() -> (
    Detached,
    tempfile::TempDir,
    std::net::SocketAddr,
    ProcessProxy,
) {
    let mut fakes = Detached::start();
    let sink = fakes.host(Backend::sink);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    let config = format!(
        "listeners:\n  web:\n    address: {listen}\n    send_timeout: 1s\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: {sink}\n\
         admin:\n  address: 127.0.0.1:0\n"
    );
    std::fs::write(&path, config).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, listen);
    (fakes, dir, listen, proxy)
}

#[test]
fn a_client_that_stops_reading_is_cut_and_counted() {
    let (_fakes, _dir, listen, proxy) = sending_to_a_sink();
    assert_eq!(proxy.metric(SEND_TIMEOUTS), 0.0);
    let mut stream = TcpStream::connect_timeout(&listen, PROCESS_WAIT).unwrap();
    // 256 MiB, far past the socket buffers; then nothing is read.
    let request = "GET /download?bytes=268435456 HTTP/1.1\r\nHost: t\r\n\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    assert!(
        poll(PROCESS_WAIT, || proxy.metric(SEND_TIMEOUTS) == 1.0),
        "no send timeout counted: {:?}",
        proxy.log()
    );
    // The connection was closed: what is left in the buffers, then the end.
    stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.len() < 268_435_456, "the whole download arrived");
}

#[test]
fn an_http2_client_granting_no_window_is_cut_and_counted() {
    let (_fakes, _dir, listen, proxy) = sending_to_a_sink();
    assert_eq!(proxy.metric(SEND_TIMEOUTS), 0.0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Cleartext HTTP/2 with SETTINGS_INITIAL_WINDOW_SIZE 0: the response head comes,
    // no DATA may, and the client keeps reading (its socket never fills).
    let frames = runtime.block_on(async {
        let mut conn = RawH2::open_with(listen, &[(0x4, 0)]).await;
        conn.send_get(1, "/download?bytes=268435456").await;
        let mut frames = Vec::new();
        while let Some(frame) = conn.next().await {
            frames.push(frame.kind);
        }
        frames
    });
    assert!(frames.contains(&kind::HEADERS), "{frames:?}");
    assert!(!frames.contains(&kind::DATA), "{frames:?}");
    assert!(
        poll(PROCESS_WAIT, || proxy.metric(SEND_TIMEOUTS) == 1.0),
        "no send timeout counted: {:?}",
        proxy.log()
    );
}

#[test]
fn backend_bodies_that_stall_or_stop_are_counted_per_backend_and_reason() {
    let mut fakes = Detached::start();
    let stalling = fakes.host(Backend::stalling_mid_body);
    let closing =
        fakes.host(|| Backend::answering(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nhello"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    let config = format!(
        "listeners:\n  web:\n    address: {listen}\n    routes:\n\
         \x20     - {{ match: {{ path_prefix: /stall }}, cluster: stall }}\n\
         \x20     - {{ match: {{ path_prefix: /close }}, cluster: close }}\n\
         clusters:\n\
         \x20 stall:\n    response_body_timeout: 1s\n    backends:\n      - address: {stalling}\n\
         \x20 close:\n    backends:\n      - address: {closing}\n\
         admin:\n  address: 127.0.0.1:0\n"
    );
    std::fs::write(&path, config).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, listen);
    // A GET (the in-task client reads the body) and a POST (hyper's client) each.
    for target in ["/stall", "/close"] {
        for request in [
            format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n"),
            format!("POST {target} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"),
        ] {
            let mut stream = TcpStream::connect_timeout(&listen, PROCESS_WAIT).unwrap();
            stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
            stream.write_all(request.as_bytes()).unwrap();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
            assert!(
                answer.ends_with(b"hello"),
                "{:?}",
                String::from_utf8_lossy(&answer)
            );
        }
    }
    let series = |cluster: &str, backend: std::net::SocketAddr, reason: &str| {
        format!(
            "sluicegate_upstream_body_errors_total{{cluster=\"{cluster}\",backend=\"{backend}\",reason=\"{reason}\"}} "
        )
    };
    let counted = poll(PROCESS_WAIT, || {
        proxy.metric(&series("stall", stalling, "timeout")) == 2.0
            && proxy.metric(&series("close", closing, "closed")) == 2.0
    });
    assert!(counted, "{}", proxy.admin_request("GET", "/metrics").1);
}
