//! The zero-downtime binary upgrade (`run --upgrade`): real processes handing their
//! listening sockets over the config's upgrade socket, with keep-alive load running
//! through, a download in flight, and upgrades that fail. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sluicegate_testkit::{
    Backend, Detached, Load, PROCESS_WAIT, ProcessProxy, free_port, init_tracing, poll, wait_exit,
};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

/// Upgrades made under load, one every [`EVERY`] (the bar).
const UPGRADES: usize = 5;
const EVERY: Duration = Duration::from_secs(2);
/// Keep-alive clients, as `wrk -c 64`.
const CLIENTS: usize = 64;

/// A config on fixed ports (an upgrade takes sockets by address: port 0 would bind
/// anew), with an upgrade socket, in a new directory.
fn config(backend: SocketAddr) -> (TempDir, PathBuf, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let (listen, admin) = (free_port(), free_port());
    let path = dir.path().join("sluicegate.yaml");
    let yaml = format!(
        "listeners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: {backend}\n\
         admin:\n  address: {admin}\n  upgrade_socket: upgrade.sock\n"
    );
    std::fs::write(&path, yaml).unwrap();
    (dir, path, listen)
}

/// Runs `bin run -c config --upgrade` to its end (bounded): its exit code and stderr.
fn failed_upgrade(config: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(BIN)
        .args(["run", "--upgrade", "-c"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_load_through_five_upgrades_sees_no_error_and_every_old_process_exits_0() {
    init_tracing();
    let backend = Backend::named("a");
    let (_dir, path, listen) = config(backend.addr());
    let first = ProcessProxy::start(BIN, &path, listen);
    let load = Load::against(listen, CLIENTS);
    load.run_for(500).await;
    let mut running = first;
    for _ in 0..UPGRADES {
        tokio::time::sleep(EVERY).await;
        let path = path.clone();
        let (old, new) = tokio::task::spawn_blocking(move || {
            let new = ProcessProxy::upgrade(BIN, &path, listen);
            let mut old = running;
            let status = old.exit_status();
            assert!(
                status.success(),
                "the old process: {status}: {:?}",
                old.log()
            );
            assert!(old.logged("took over; draining"), "{:?}", old.log());
            (old, new)
        })
        .await
        .unwrap();
        drop(old);
        running = new;
        // Traffic goes on through the new process.
        load.run_for(200).await;
    }
    load.stop_without_failures().await;
    let mut last = running;
    last.signal("TERM");
    assert!(last.exit_status().success(), "{:?}", last.log());
}

#[test]
fn a_download_started_before_the_upgrade_completes_on_the_old_process() {
    init_tracing();
    // 40 chunks of 1 KiB, one every 100 ms: about 4 s, well inside the drain timeout.
    let mut fakes = Detached::start();
    let backend = fakes.host(|| Backend::trickling(40, 1024, Duration::from_millis(100)));
    let (_dir, path, listen) = config(backend);
    let mut old = ProcessProxy::start(BIN, &path, listen);
    let mut download = TcpStream::connect(listen).unwrap();
    download.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    download
        .write_all(b"GET /report HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    download.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let new = ProcessProxy::upgrade(BIN, &path, listen);
    let mut rest = Vec::new();
    download.read_to_end(&mut rest).unwrap();
    let text = String::from_utf8_lossy(&rest);
    assert_eq!(text.matches(&"x".repeat(1024)).count(), 40, "{text}");
    assert!(text.ends_with("0\r\n\r\n"), "the download was cut: {text}");
    let status = old.exit_status();
    assert!(status.success(), "{status}: {:?}", old.log());
    drop(new);
}

#[test]
fn a_failed_upgrade_leaves_the_old_process_serving_and_upgradable() {
    init_tracing();
    let mut fakes = Detached::start();
    let (dir, path, listen) = config(fakes.named("a"));
    let old = ProcessProxy::start(BIN, &path, listen);
    assert!(old.serves("a", PROCESS_WAIT), "{:?}", old.log());
    // A config that does not load: the running process is never asked.
    let bad = dir.path().join("bad.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&bad, text.replace("cluster: app", "cluster: nowhere")).unwrap();
    let (code, stderr) = failed_upgrade(&bad);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("nowhere"), "{stderr}");
    // One that loads but cannot bind (its admin port is taken): it asked, got the
    // sockets, failed, and the old process goes on.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let admin = text
        .split("admin:\n  address: ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    let port = taken.local_addr().unwrap().to_string();
    std::fs::write(&bad, text.replace(admin, &port)).unwrap();
    let (code, stderr) = failed_upgrade(&bad);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("admin.address"), "{stderr}");
    assert!(
        poll(PROCESS_WAIT, || old.logged("upgrade abandoned")),
        "{:?}",
        old.log()
    );
    assert!(old.serves("a", PROCESS_WAIT), "{:?}", old.log());
    assert_eq!(old.admin_request("GET", "/ready").0, 200);
    // Still upgradable: the next good upgrade takes over.
    let mut old = old;
    let new = ProcessProxy::upgrade(BIN, &path, listen);
    assert!(old.exit_status().success(), "{:?}", old.log());
    assert!(new.serves("a", PROCESS_WAIT), "{:?}", new.log());
}

#[test]
fn two_upgrades_started_together_both_take_over_one_after_the_other() {
    init_tracing();
    let mut fakes = Detached::start();
    let (dir, path, listen) = config(fakes.named("a"));
    let mut old = ProcessProxy::start(BIN, &path, listen);
    assert!(old.serves("a", PROCESS_WAIT), "{:?}", old.log());
    // The first upgrade holds the old process between its ask and its take-over:
    // its config has a cluster whose DNS server never answers, which it waits for
    // (5 s) before it binds.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let slow = dir.path().join("slow.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let late = format!(
        "clusters:\n  late:\n    discovery:\n      dns: {{ name: late.test, port: 80, resolver: \"{}\" }}\n",
        silent.local_addr().unwrap()
    );
    std::fs::write(&slow, text.replace("clusters:\n", &late)).unwrap();
    let first = std::thread::spawn(move || ProcessProxy::upgrade(BIN, &slow, listen));
    let asked = || old.logged("upgrade: handing");
    assert!(poll(PROCESS_WAIT, asked), "{:?}", old.log());
    // The second asks meanwhile: it waits in the socket's queue, is told the sockets
    // moved once the first took over, and takes them from the first.
    let second = ProcessProxy::upgrade(BIN, &path, listen);
    let mut first = first.join().unwrap();
    assert!(
        second.logged("upgraded meanwhile; asking the new one"),
        "{:?}",
        second.log()
    );
    assert!(old.exit_status().success(), "{:?}", old.log());
    assert!(first.exit_status().success(), "{:?}", first.log());
    assert!(second.serves("a", PROCESS_WAIT), "{:?}", second.log());
}

#[test]
fn upgrade_without_an_upgrade_socket_or_a_running_process_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let yaml = sluicegate_testkit::process_config(free_port(), "127.0.0.1:9");
    std::fs::write(&path, &yaml).unwrap();
    let (code, stderr) = failed_upgrade(&path);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("sets no admin.upgrade_socket"), "{stderr}");
    std::fs::write(&path, format!("{yaml}  upgrade_socket: upgrade.sock\n")).unwrap();
    let (code, stderr) = failed_upgrade(&path);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("no running sluicegate answers on"),
        "{stderr}"
    );
}

#[test]
fn sigusr2_starts_the_installed_binary_which_takes_over() {
    init_tracing();
    let mut fakes = Detached::start();
    let (_dir, path, listen) = config(fakes.named("a"));
    let mut old = ProcessProxy::start(BIN, &path, listen);
    assert!(old.serves("a", PROCESS_WAIT), "{:?}", old.log());
    old.signal("USR2");
    // The child's log goes where the old process's goes.
    let took_over = || old.logged("took over from the running process");
    assert!(poll(PROCESS_WAIT, took_over), "{:?}", old.log());
    assert!(old.exit_status().success(), "{:?}", old.log());
    let line = old.lines("upgrade: process ").pop().unwrap();
    let pid = line.split("upgrade: process ").nth(1).unwrap();
    let pid = pid.split_whitespace().next().unwrap().to_owned();
    let new = Stopped(pid);
    assert!(poll(PROCESS_WAIT, || sluicegate_testkit::blocking::get(
        listen
    ) == "a"));
    drop(new);
}

/// A process this test did not start (the one SIGUSR2 started), stopped with SIGTERM
/// when dropped, and waited for (bounded) until it is gone.
struct Stopped(String);

impl Drop for Stopped {
    fn drop(&mut self) {
        let kill = |signal: &str| {
            Command::new("kill")
                .args([signal, &self.0])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        // Gone, or a zombie its new parent has not reaped yet.
        let running = || {
            std::fs::read_to_string(format!("/proc/{}/stat", self.0)).is_ok_and(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|s| !s.trim_start().starts_with('Z'))
            })
        };
        kill("-TERM");
        if !poll(PROCESS_WAIT, || !running()) {
            kill("-KILL");
        }
    }
}
