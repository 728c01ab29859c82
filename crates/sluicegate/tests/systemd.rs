//! systemd's readiness protocol from a real `sluicegate run` process: with
//! `NOTIFY_SOCKET` set (as systemd sets it for a `Type=notify` unit), `READY=1` once it
//! serves, `RELOADING=1` then `READY=1` around a SIGHUP reload, `STOPPING=1` at
//! SIGTERM, read off a Unix datagram socket the test binds. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use sluicegate_testkit::{Detached, PROCESS_WAIT, ProcessProxy, free_port, process_config};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

/// The next notification whose text contains `wanted`, within [`PROCESS_WAIT`]; the
/// ones before it are returned too, in order.
fn until(socket: &UnixDatagram, wanted: &str) -> Vec<String> {
    let deadline = Instant::now() + PROCESS_WAIT;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let Ok(n) = socket.recv(&mut buffer) else {
            continue;
        };
        let message = String::from_utf8_lossy(&buffer[..n]).into_owned();
        let done = message.contains(wanted);
        seen.push(message);
        if done {
            return seen;
        }
    }
    panic!("no notification with {wanted:?} in time; got {seen:?}");
}

#[test]
fn ready_reloading_and_stopping_reach_the_notify_socket() {
    let mut fakes = Detached::start();
    let backend = fakes.named("a");
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    std::fs::write(&path, process_config(listen, backend)).unwrap();
    let env = [("NOTIFY_SOCKET", socket_path.as_path())];
    let proxy = ProcessProxy::start_with_env(BIN, &path, listen, &env);

    let ready = until(&socket, "READY=1");
    assert!(
        ready.last().unwrap().contains("STATUS=serving"),
        "{ready:?}"
    );
    assert_eq!(proxy.get(), "a", "READY=1 came before the proxy served");

    proxy.hup();
    let reload = until(&socket, "READY=1");
    let reloading = reload.iter().position(|m| m.contains("RELOADING=1"));
    let reloading =
        reloading.unwrap_or_else(|| panic!("no RELOADING=1 before READY=1: {reload:?}"));
    assert!(reload[reloading].contains("MONOTONIC_USEC="), "{reload:?}");
    assert!(
        reload.last().unwrap().contains("STATUS=serving generation"),
        "{reload:?}"
    );

    proxy.signal("TERM");
    until(&socket, "STOPPING=1");
}

#[test]
#[ignore = "needs systemd-socket-activate (Debian systemd): .ci/run runs it"]
fn a_socket_activated_listener_serves_the_connection_that_started_it() {
    let mut fakes = Detached::start();
    let backend = fakes.named("a");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    std::fs::write(&path, process_config(listen, backend)).unwrap();
    // The socket is systemd's: sluicegate could not bind the port itself (no
    // SO_REUSEPORT on it), so an answer on it is an answer on the handed socket.
    let (proxy, first) = ProcessProxy::start_activated(BIN, &path, listen);
    assert_eq!(
        first,
        "a",
        "the queued connection was not served: {:?}",
        proxy.log()
    );
    assert!(proxy.logged("socket activation: 1 socket(s) from systemd"));
    assert_eq!(proxy.get(), "a");
    assert!(!proxy.logged("matches no listener"), "{:?}", proxy.log());
}
