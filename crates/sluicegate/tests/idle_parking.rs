//! Kept-alive HTTP/1 connections parked while idle (`crates/http/src/park.rs`), on a
//! real process: a connection idle for a second is counted in
//! `sluicegate_downstream_connections_idle`, then serves whatever comes next exactly as
//! an unparked one would (a head in pieces, pipelined requests, a refused head with its
//! own answer, an upgrade), and a parked connection closes at its keep-alive deadline
//! and at once when the process drains.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use sluicegate_testkit::{Backend, Detached, PROCESS_WAIT, ProcessProxy, free_port, poll};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");
/// The idle gauge of the test's listener.
const IDLE: &str = "sluicegate_downstream_connections_idle{listener=\"web\"} ";
/// A keep-alive request for `/`.
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";

/// A process proxying listener `web` (with `listener_keys`, indented lines) to
/// `backend`, with `top_keys` at the top level of its config.
fn start(dir: &Path, backend: SocketAddr, listener_keys: &str, top_keys: &str) -> ProcessProxy {
    let path = dir.join("sluicegate.yaml");
    let web = free_port();
    let config = format!(
        "{top_keys}listeners:\n  web:\n    address: {web}\n{listener_keys}    routes:\n      - cluster: app\nclusters:\n  app:\n    backends:\n      - address: {backend}\nadmin:\n  address: 127.0.0.1:0\n"
    );
    std::fs::write(&path, config).unwrap();
    ProcessProxy::start(BIN, &path, web)
}

/// A connection to `addr` with reads bounded by [`PROCESS_WAIT`].
fn open(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, PROCESS_WAIT).unwrap();
    stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    stream
}

/// Reads from `stream` until `done` holds for what came (panics if it closes first).
fn read_until(stream: &mut TcpStream, done: impl Fn(&str) -> bool) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !done(&String::from_utf8_lossy(&got)) {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads `n` answers of the `"a"` backend from `stream`.
fn answers(stream: &mut TcpStream, n: usize) -> String {
    read_until(stream, |got| got.matches("\r\n\r\na").count() >= n)
}

/// Waits until the proxy counts `n` parked connections; panics if it does not.
fn parked(proxy: &ProcessProxy, n: f64) {
    assert!(
        poll(PROCESS_WAIT, || proxy.metric(IDLE) == n),
        "{} parked, not {n}",
        proxy.metric(IDLE)
    );
}

/// Whether the proxy closes `stream` without sending anything more.
fn closed(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(0))
}

#[test]
fn a_parked_connection_serves_what_comes_next_as_an_unparked_one_would() {
    let mut fakes = Detached::start();
    let backend = fakes.named("a");
    let dir = tempfile::tempdir().unwrap();
    let proxy = start(dir.path(), backend, "", "");
    let mut stream = open(proxy.addr());
    stream.write_all(GET).unwrap();
    answers(&mut stream, 1);
    parked(&proxy, 1.0);

    // A head in pieces: the first read after parking is only its start.
    stream.write_all(b"GE").unwrap();
    parked(&proxy, 0.0);
    stream.write_all(b"T / HTTP/1.1\r\nHo").unwrap();
    stream.write_all(b"st: t\r\n\r\n").unwrap();
    assert!(answers(&mut stream, 1).starts_with("HTTP/1.1 200"));
    parked(&proxy, 1.0);

    // Three pipelined requests in one write, a body among them.
    let post = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
    stream.write_all(&[GET, post, GET].concat()).unwrap();
    assert_eq!(answers(&mut stream, 3).matches("HTTP/1.1 200").count(), 3);
    parked(&proxy, 1.0);

    // A refused head after parking gets its own answer, not the backend's.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n")
        .unwrap();
    let refused = read_until(&mut stream, |got| got.contains("invalid header"));
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
    assert!(closed(&mut stream));
    parked(&proxy, 0.0);
}

#[test]
fn an_upgrade_asked_on_a_parked_connection_is_switched() {
    let mut fakes = Detached::start();
    let (plain, ws) = (fakes.named("a"), fakes.host(Backend::websocket));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let web = free_port();
    let config = format!(
        "listeners:\n  web:\n    address: {web}\n    routes:\n      - match: {{ path_prefix: /ws }}\n        cluster: ws\n      - cluster: app\nclusters:\n  app:\n    backends:\n      - address: {plain}\n  ws:\n    backends:\n      - address: {ws}\nadmin:\n  address: 127.0.0.1:0\n"
    );
    std::fs::write(&path, config).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, web);
    let mut stream = open(proxy.addr());
    stream.write_all(GET).unwrap();
    answers(&mut stream, 1);
    parked(&proxy, 1.0);
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .unwrap();
    let switched = read_until(&mut stream, |got| got.contains("\r\n\r\n"));
    assert!(switched.starts_with("HTTP/1.1 101"), "{switched}");
    parked(&proxy, 0.0);
}

#[test]
fn a_parked_connection_closes_at_its_keepalive_deadline_and_when_the_process_drains() {
    let mut fakes = Detached::start();
    let backend = fakes.named("a");
    let dir = tempfile::tempdir().unwrap();
    let proxy = start(
        dir.path(),
        backend,
        "    keepalive_timeout: 3s\n",
        "drain_timeout: 60s\n",
    );
    let mut kept = open(proxy.addr());
    kept.write_all(GET).unwrap();
    answers(&mut kept, 1);
    parked(&proxy, 1.0);
    assert!(closed(&mut kept), "not closed at the keep-alive deadline");
    parked(&proxy, 0.0);

    let mut draining = open(proxy.addr());
    draining.write_all(GET).unwrap();
    answers(&mut draining, 1);
    parked(&proxy, 1.0);
    proxy.signal("TERM");
    // Well before the 60 s drain deadline: an idle connection holds up nothing.
    assert!(
        closed(&mut draining),
        "a parked connection held up the drain"
    );
}
