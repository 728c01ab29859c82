//! How `sluicegate run` stops: a second SIGTERM or SIGINT during the drain stops it at
//! once, and a drain that had to cut requests exits non-zero. Real processes, a backend
//! that never answers, every wait bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use sluicegate_testkit::{PROCESS_WAIT, lines_of, signal, wait_exit};

/// A backend that accepts and reads but never answers; the receiver hears of each
/// read, so a test knows a request reached it.
fn silent_backend() -> (SocketAddr, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(stream.read(&mut buf), Ok(n) if n > 0) {
                    let _ = tx.send(());
                }
            });
        }
    });
    (addr, rx)
}

/// What [`with_request_in_flight`] returns.
type InFlight = (
    Child,
    mpsc::Receiver<String>,
    TcpStream,
    tempfile::NamedTempFile,
);

/// `run` with `drain_timeout`, one request in flight to a silent backend; returns the
/// process, its log lines, the client connection holding the request and the config
/// file (kept while the process runs).
fn with_request_in_flight(drain_timeout: &str) -> InFlight {
    let listen = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (backend, reached) = silent_backend();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    write!(
        file,
        "drain_timeout: {drain_timeout}\nlisteners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    response_timeout: 60s\n    backends:\n      - address: {backend}\n\
         admin:\n  address: 127.0.0.1:0\n"
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(["run", "-c"])
        .arg(file.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stderr.take().unwrap());
    wait_for(&lines, "listening on");
    let mut client = TcpStream::connect_timeout(&listen, PROCESS_WAIT).unwrap();
    write!(client, "GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    reached
        .recv_timeout(PROCESS_WAIT)
        .expect("the request did not reach the backend");
    (child, lines, client, file)
}

fn wait_for(lines: &mpsc::Receiver<String>, text: &str) {
    let deadline = Instant::now() + PROCESS_WAIT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no log line with {text:?} within {PROCESS_WAIT:?}");
}

#[test]
fn a_second_signal_during_the_drain_stops_at_once() {
    for (first, second) in [("TERM", "TERM"), ("INT", "TERM"), ("TERM", "INT")] {
        // The drain alone would take a minute: the request never ends.
        let (mut child, lines, _client, _file) = with_request_in_flight("60s");
        signal(&child, first);
        wait_for(&lines, "draining");
        signal(&child, second);
        let status = wait_exit(&mut child);
        assert_eq!(status.code(), Some(1), "{first} then {second}: {status:?}");
    }
}

#[test]
fn a_drain_that_cut_requests_exits_1() {
    let (mut child, lines, _client, _file) = with_request_in_flight("500ms");
    signal(&child, "TERM");
    wait_for(&lines, "drain finished");
    assert_eq!(wait_exit(&mut child).code(), Some(1));
}
