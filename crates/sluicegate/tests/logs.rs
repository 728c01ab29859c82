//! What the process writes to stderr, as a log shipper sees it: no colour codes when
//! stderr is not a terminal, one JSON object a line with `--log-format json`; and the
//! demo's admin port set by `--admin-port`. Real processes; every wait has a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use sluicegate_testkit::{PROCESS_WAIT, lines_of};

/// `sluicegate demo --port 0` plus `args`, stderr piped, `NO_COLOR` unset.
fn demo(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(["demo", "--port", "0"])
        .args(args)
        .env_remove("NO_COLOR")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stderr.take().unwrap());
    (child, lines)
}

/// Lines up to and including the first one containing `text`.
fn lines_until(lines: &mpsc::Receiver<String>, text: &str) -> Vec<String> {
    let deadline = Instant::now() + PROCESS_WAIT;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = lines.recv_timeout(left) else {
            break;
        };
        let found = line.contains(text);
        seen.push(line);
        if found {
            return seen;
        }
    }
    panic!("no line with {text:?} within {PROCESS_WAIT:?}: {seen:?}");
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    let (child, lines) = demo(&[]);
    let seen = lines_until(&lines, "admin API on");
    stop(child);
    assert!(seen.len() >= 2, "{seen:?}");
    for line in &seen {
        assert!(!line.contains('\u{1b}'), "escape code in {line:?}");
    }
}

#[test]
fn json_logs_are_one_object_a_line() {
    let (child, lines) = demo(&["--log-format", "json"]);
    let seen = lines_until(&lines, "admin API on");
    stop(child);
    for line in &seen {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        assert!(value["timestamp"].is_string(), "{line}");
        assert!(value["level"].is_string(), "{line}");
        assert!(value["fields"]["message"].is_string(), "{line}");
    }
    let last = seen.last().unwrap();
    assert!(last.contains("\"level\":\"INFO\""), "{last}");
}

#[test]
fn demo_admin_port_moves_the_admin_api() {
    let port = {
        let probe = TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let (child, lines) = demo(&["--admin-port", &port.to_string()]);
    let seen = lines_until(&lines, "admin API on");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut stream = TcpStream::connect_timeout(&addr, PROCESS_WAIT).unwrap();
    stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    stop(child);
    assert!(response.starts_with("HTTP/1.1 200"), "{response} {seen:?}");
}
