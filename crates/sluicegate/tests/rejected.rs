//! Requests the HTTP parser refuses are seen: counted by reason in
//! `sluicegate_rejected_requests_total`, in `sluicegate_requests_total` and as
//! `bad_request` errors, and logged (rate-limited). Real process, raw sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use sluicegate_testkit::{Detached, PROCESS_WAIT, ProcessProxy, free_port, poll, process_config};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

/// Writes `bytes` and reads the answer until the proxy closes.
fn exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, PROCESS_WAIT).unwrap();
    stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn refused_requests_are_counted_by_reason_and_logged() {
    let mut fakes = Detached::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    std::fs::write(&path, process_config(listen, fakes.named("a"))).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, listen);
    let framing = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx";
    let answer = exchange(listen, framing);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    assert!(
        answer.ends_with("\r\n\r\n400 Bad Request: conflicting Content-Length headers\n"),
        "{answer:?}"
    );
    let answer = exchange(listen, b"G\x01T / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert!(
        answer.ends_with("400 Bad Request: invalid method\n"),
        "{answer:?}"
    );
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "x".repeat(500 * 1024)
    );
    let answer = exchange(listen, huge.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer:?}");
    assert!(answer.contains("x-request-id: "), "{answer:?}");

    let series = |reason: &str| {
        format!("sluicegate_rejected_requests_total{{listener=\"web\",reason=\"{reason}\"}} ")
    };
    assert!(
        poll(PROCESS_WAIT, || proxy.metric(&series("head_too_large"))
            == 1.0),
        "{:?}",
        proxy.admin_request("GET", "/metrics").1
    );
    assert_eq!(proxy.metric(&series("framing")), 1.0);
    assert_eq!(proxy.metric(&series("malformed")), 1.0);
    let errors = "sluicegate_errors_total{listener=\"web\",kind=\"bad_request\"} ";
    assert_eq!(proxy.metric(errors), 3.0);
    let fours = "sluicegate_requests_total{listener=\"web\",code=\"4xx\"} ";
    assert_eq!(proxy.metric(fours), 3.0);
    assert!(poll(PROCESS_WAIT, || proxy
        .logged("request refused: conflicting Content-Length headers")));
}
