//! The listener's `send_timeout` on a real process: a client that stops reading a
//! large download has its connection closed once the proxy's writes have waited the
//! timeout, and the cut is counted in `sluicegate_downstream_send_timeouts_total`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::TcpStream;

use sluicegate_testkit::{Backend, Detached, PROCESS_WAIT, ProcessProxy, free_port, poll};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

#[test]
fn a_client_that_stops_reading_is_cut_and_counted() {
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
    let series = "sluicegate_downstream_send_timeouts_total{listener=\"web\"} ";
    assert_eq!(proxy.metric(series), 0.0);
    let mut stream = TcpStream::connect_timeout(&listen, PROCESS_WAIT).unwrap();
    // 256 MiB, far past the socket buffers; then nothing is read.
    let request = "GET /download?bytes=268435456 HTTP/1.1\r\nHost: t\r\n\r\n";
    stream.write_all(request.as_bytes()).unwrap();
    assert!(
        poll(PROCESS_WAIT, || proxy.metric(series) == 1.0),
        "no send timeout counted: {:?}",
        proxy.log()
    );
    // The connection was closed: what is left in the buffers, then the end.
    stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.len() < 268_435_456, "the whole download arrived");
}
