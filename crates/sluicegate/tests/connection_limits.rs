//! Connection limits and running out of file descriptors, on a real process: past a
//! listener's or the process's `max_connections`, or a listener's connection rate for
//! one client address, a new connection is closed at once and counted while the open
//! ones keep being served; out of descriptors, the accept
//! loop backs off without spinning, counts and logs the failures, and serves again
//! once descriptors are freed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use sluicegate_testkit::{Detached, PROCESS_WAIT, ProcessProxy, free_port, poll};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

/// A connection to `addr` that is open (it sent nothing yet).
fn open(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, PROCESS_WAIT).unwrap();
    stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    stream
}

/// Sends a keep-alive `GET /` on `stream` and reads the answer's body (`"a"`).
fn get_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"\r\n\r\na") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Whether the proxy closes `stream` without sending a byte.
fn closed_unanswered(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(stream.read(&mut buf), Ok(0))
}

/// The refused-connection series of `listener` for `reason`.
fn refused(listener: &str, reason: &str) -> String {
    format!(
        "sluicegate_downstream_connections_refused_total{{listener=\"{listener}\",reason=\"{reason}\"}} "
    )
}

/// A running process with two listeners, `web` (with `web_lines` in its block) and
/// `api`, both routing to one backend answering `"a"`; `top` goes before `listeners:`.
/// Fields drop in order: the process before its config and its backend (bind them
/// all: a `..` would drop the backend at once).
struct TwoListeners {
    proxy: ProcessProxy,
    web: SocketAddr,
    api: SocketAddr,
    _dir: tempfile::TempDir,
    _fakes: Detached,
}

fn two_listeners(top: &str, web_lines: &str) -> TwoListeners {
    let mut fakes = Detached::start();
    let backend = fakes.named("a");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let (web, api) = (free_port(), free_port());
    let config = format!(
        "{top}listeners:\n  web:\n    address: {web}\n{web_lines}    routes:\n      - cluster: app\n  api:\n    address: {api}\n    routes:\n      - cluster: app\nclusters:\n  app:\n    backends:\n      - address: {backend}\nadmin:\n  address: 127.0.0.1:0\n"
    );
    std::fs::write(&path, config).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, web);
    TwoListeners {
        proxy,
        web,
        api,
        _dir: dir,
        _fakes: fakes,
    }
}

#[test]
fn past_a_connection_limit_new_connections_are_closed_and_open_ones_are_served() {
    let TwoListeners {
        proxy,
        web,
        api,
        _dir,
        _fakes,
    } = two_listeners("max_connections: 4\n", "    max_connections: 2\n");

    let mut held = vec![open(web), open(web)];
    assert!(get_on(&mut held[0]).ends_with("\r\n\r\na"));
    let mut third = open(web);
    assert!(
        closed_unanswered(&mut third),
        "the listener's third connection was served"
    );
    assert_eq!(proxy.metric(&refused("web", "listener_limit")), 1.0);

    // The process's limit counts both listeners: two more on `api` fill it.
    held.push(open(api));
    held.push(open(api));
    assert!(get_on(&mut held[3]).ends_with("\r\n\r\na"));
    let mut fifth = open(api);
    assert!(
        closed_unanswered(&mut fifth),
        "the process's fifth connection was served"
    );
    assert_eq!(proxy.metric(&refused("api", "process_limit")), 1.0);

    // The connections already open are untouched, and a freed slot is used again.
    assert!(get_on(&mut held[1]).ends_with("\r\n\r\na"));
    drop(held.remove(0));
    assert!(
        poll(PROCESS_WAIT, || {
            let mut again = open(web);
            again
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut buf = [0u8; 64];
            again
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                .is_ok()
                && again.read(&mut buf).is_ok_and(|n| n > 0)
        }),
        "a freed slot was not used again"
    );
}

#[test]
fn past_a_connection_rate_a_client_is_closed_until_a_token_is_back() {
    let rate = "    connection_rate_limit: { connections_per_second: 1, burst: 3 }\n";
    let TwoListeners {
        proxy,
        web,
        api,
        _dir,
        _fakes,
    } = two_listeners("", rate);

    // The burst: three connections at once, each served.
    let mut held: Vec<TcpStream> = (0..3).map(|_| open(web)).collect();
    for stream in &mut held {
        assert!(get_on(stream).ends_with("\r\n\r\na"));
    }
    // Then one a second: opened faster than that, one is closed unread. (Not
    // necessarily the fourth: on a slow machine a token may be back by then.)
    let refused_at = (0..20).find(|_| closed_unanswered(&mut open(web)));
    assert!(
        refused_at.is_some(),
        "twenty more connections were all admitted"
    );
    assert!(proxy.metric(&refused("web", "source_rate")) >= 1.0);
    assert_eq!(proxy.metric(&refused("web", "listener_limit")), 0.0);

    // The open connections are untouched, another listener is not limited, and a
    // token comes back within the second.
    assert!(get_on(&mut held[0]).ends_with("\r\n\r\na"));
    assert!(get_on(&mut open(api)).ends_with("\r\n\r\na"));
    assert!(
        poll(PROCESS_WAIT, || {
            let mut again = open(web);
            again
                .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                .is_ok()
                && again.read(&mut [0u8; 64]).is_ok_and(|n| n > 0)
        }),
        "no connection was admitted again"
    );
}

/// CPU seconds (user + system) the process `pid` used so far, from `/proc`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): utime is the 14th
    // field of the line, stime the 15th; in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn out_of_file_descriptors_the_accept_loop_backs_off_and_recovers() {
    let mut fakes = Detached::start();
    let backend = fakes.named("a");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let web = free_port();
    std::fs::write(&path, sluicegate_testkit::process_config(web, backend)).unwrap();
    let proxy = ProcessProxy::start_with_fd_limit(BIN, &path, web, 64);
    assert!(proxy.serves("a", PROCESS_WAIT), "{:?}", proxy.log());
    assert!(
        proxy.logged("file descriptor limit: 64 (hard limit 64)"),
        "{:?}",
        proxy.log()
    );
    assert!(
        proxy.logged("need about"),
        "no warning on the limits: {:?}",
        proxy.log()
    );

    // More connections than descriptors: the kernel queues them, accepts then fail.
    let flood: Vec<TcpStream> = (0..120).map(|_| open(web)).collect();
    assert!(
        poll(PROCESS_WAIT, || proxy.logged("accept failed")),
        "{:?}",
        proxy.log()
    );
    // Out of descriptors, the loop waits rather than spins.
    let (cpu, wall) = (cpu_seconds(proxy.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_seconds(proxy.pid()) - cpu;
    let share = used / wall.elapsed().as_secs_f64();
    assert!(
        share < 0.3,
        "the proxy burned {used:.2} CPU seconds in 2 s while out of descriptors"
    );

    drop(flood);
    assert!(
        proxy.serves("a", PROCESS_WAIT),
        "no recovery: {:?}",
        proxy.log()
    );
    let errors = "sluicegate_accept_errors_total{listener=\"web\"} ";
    assert!(proxy.metric(errors) >= 1.0);
}
