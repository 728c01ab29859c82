//! The `sluicegate` command line, run as a real process.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use sluicegate_testkit::{PROCESS_WAIT, lines_of, signal, wait_exit};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluicegate"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn check(path: &Path) -> Output {
    bin().args(["check", "-c"]).arg(path).output().unwrap()
}

fn write_temp(yaml: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(yaml.as_bytes()).unwrap();
    file
}

#[test]
fn check_accepts_every_example_config() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.push(root().join("benches/bench.yaml"));
    files.push(root().join("benches/bench-nometrics.yaml"));
    files.push(root().join("benches/bench-health.yaml"));
    assert!(
        files.len() >= 4,
        "expected the example configs, got {files:?}"
    );
    for file in files {
        let out = check(&file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains(": ok: "), "{stdout}");
    }
}

#[test]
fn check_summarises_a_valid_file() {
    let out = check(&root().join("configs/routing.yaml"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok: 1 listener, 4 clusters, 6 backends"),
        "{stdout}"
    );
}

#[test]
fn check_lists_every_error_and_exits_1() {
    let file = write_temp(
        "listeners:\n  web:\n    address: 127.0.0.1:99999\n    routes:\n      - cluster: apii\n\
         clusters:\n  api:\n    backends:\n      - address: 127.0.0.1:9001\n        weight: 0\n",
    );
    let out = check(file.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("3 config errors"), "{stderr}");
    assert!(
        stderr.contains("listeners.web.address: invalid socket address \"127.0.0.1:99999\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("listeners.web.routes[0].cluster: unknown cluster \"apii\""),
        "{stderr}"
    );
    assert!(stderr.contains("clusters.api.backends[0].weight: weight 0 is out of range (1 to 10000) (line 10, column 17)"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn check_exits_2_on_unreadable_file() {
    let out = check(Path::new("/nonexistent/sluicegate.yaml"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn check_calls_a_binary_file_an_invalid_config() {
    for (bytes, why) in [
        (
            &b"\x7fELF\x02\x01\x01\xff\xfe"[..],
            "invalid UTF-8 at byte 7",
        ),
        (&b"listeners:\0\n"[..], "a NUL byte at byte 10"),
    ] {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(bytes).unwrap();
        let out = check(file.path());
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.ends_with(&format!(": not a YAML text file ({why})\n")),
            "{stderr}"
        );
    }
}

#[test]
fn run_names_the_listener_whose_port_is_taken() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let file = write_temp(&format!(
        "listeners:\n  busy:\n    address: {addr}\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: 127.0.0.1:9\n"
    ));
    let out = bin().args(["run", "-c"]).arg(file.path()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "error: listener busy: cannot bind {addr}: Address already in use (os error 98)\n"
        )),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("Address already in use").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn run_refuses_an_invalid_file_before_it_binds_anything() {
    // The listener's port is held here: had `run` bound before validating, it would
    // fail on the bind, not on the config.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    for (yaml, error) in [
        (
            format!("listeners:\n  web:\n    address: {addr}\n   routes: []\n"),
            "(line 4, column 4)",
        ),
        (
            format!(
                "listeners:\n  web:\n    address: {addr}\n    routes:\n      - cluster: nope\n\
                 clusters:\n  app:\n    backends:\n      - address: 127.0.0.1:9\n"
            ),
            "listeners.web.routes[0].cluster: unknown cluster \"nope\" (line 5, column 18)",
        ),
    ] {
        let file = write_temp(&yaml);
        let out = bin().args(["run", "-c"]).arg(file.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{yaml}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(error), "{stderr}");
        let name = file.path().display().to_string();
        assert!(stderr.contains(&name), "the file is not named: {stderr}");
        assert!(!stderr.contains("cannot bind"), "{stderr}");
    }
}

/// Waits for a line containing `listening on http://` and returns the address after it.
fn listening_addr(lines: &mpsc::Receiver<String>) -> SocketAddr {
    let deadline = Instant::now() + PROCESS_WAIT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let line = lines
            .recv_timeout(left)
            .expect("the process did not say where it listens");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '\u{1b}')
                .collect();
            return addr.parse().unwrap();
        }
    }
    panic!("no listening line within {PROCESS_WAIT:?}");
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, PROCESS_WAIT).unwrap();
    stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn demo_serves_three_backends_and_stops_on_ctrl_c() {
    let mut child = bin()
        .args(["demo", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = lines_of(child.stdout.take().unwrap());
    let addr = listening_addr(&stdout);
    let bodies: Vec<String> = (0..4).map(|_| http_get(addr, "/")).collect();
    for name in ["demo-1", "demo-2", "demo-3"] {
        assert!(
            bodies
                .iter()
                .any(|b| b.contains(&format!("hello from {name}"))),
            "{bodies:?}"
        );
    }
    assert!(http_get(addr, "/status/418").starts_with("HTTP/1.1 418"));
    signal(&child, "INT");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn run_serves_and_exits_0_on_sigterm() {
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_addr = backend.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in backend.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nhi\n",
            );
        }
    });
    let file = write_temp(&format!(
        "listeners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: {backend_addr}\n\
         admin:\n  address: 127.0.0.1:0\n"
    ));
    let mut child = bin()
        .args(["run", "-c"])
        .arg(file.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines_of(child.stderr.take().unwrap());
    let addr = listening_addr(&stderr);
    let response = http_get(addr, "/");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("hi\n"), "{response}");
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn check_against_lists_what_a_reload_would_change() {
    let old = root().join("configs/routing.yaml");
    let text = std::fs::read_to_string(&old).unwrap();
    let new = write_temp(&text.replacen("policy: round_robin", "policy: least_connections", 1));
    let out = bin()
        .args(["check", "-c"])
        .arg(new.path())
        .arg("--against")
        .arg(&old)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("cluster api_v1 policy round_robin → least_connections"),
        "{stdout}"
    );
    let same = bin()
        .args(["check", "-c"])
        .arg(&old)
        .arg("--against")
        .arg(&old)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&same.stdout).contains("no changes"));
}

#[test]
fn check_says_when_a_ring_is_capped() {
    let mut yaml = String::from(
        "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - cluster: big\n\
         clusters:\n  big:\n    policy: ring_hash\n    ring: { points_per_weight: 1000 }\n    backends:\n",
    );
    for port in 9000..9010 {
        yaml.push_str(&format!(
            "      - address: 127.0.0.1:{port}\n        weight: 1000\n"
        ));
    }
    let file = write_temp(&yaml);
    let out = check(file.path());
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "ring_hash: 10000000 points asked (1000 per unit of weight × total weight 10000) \
             exceed the cap of 8388608: every backend's points are scaled down to fit"
        ),
        "{stderr}"
    );
}

#[test]
fn check_warns_of_a_backend_that_is_its_own_listener() {
    let file = write_temp(
        "listeners:\n  web:\n    address: 0.0.0.0:18080\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: 127.0.0.1:9001\n      - address: 127.0.0.1:18080\n",
    );
    let out = check(file.path());
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "clusters.app.backends[1].address: 127.0.0.1:18080 is listener \"web\" of this proxy: \
             its requests would loop back in (answered 508 Loop Detected)"
        ),
        "{stderr}"
    );
}

#[test]
fn version_names_the_commit_and_the_compiler() {
    let out = bin().arg("--version").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rest = text
        .strip_prefix(concat!(
            "sluicegate ",
            env!("CARGO_PKG_VERSION"),
            " (commit "
        ))
        .unwrap_or_else(|| panic!("{text}"));
    let (commit, rustc) = rest.split_once(", ").unwrap_or_else(|| panic!("{text}"));
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{text}"
    );
    assert!(
        rustc.starts_with("rustc 1.") && rustc.ends_with(")\n"),
        "{text}"
    );
}

#[test]
fn check_resolves_backend_names_and_names_one_that_does_not_resolve() {
    let file = write_temp(
        "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: localhost:9\n      - address: 127.0.0.2:9\n",
    );
    let out = check(file.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains(": ok: 1 listener, 1 cluster, "), "{stdout}");
    assert!(
        stdout.contains("\n  cluster app: localhost:9 → 127.0.0.1:9"),
        "the resolution is not shown: {stdout}"
    );

    let file = write_temp(
        "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: 127.0.0.1:9\n      - address: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.invalid:80\n",
    );
    let out = check(file.path());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "\n  clusters.app.backends[1].address: cannot resolve \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.invalid:80\": "
        ),
        "{stderr}"
    );
    assert!(stderr.ends_with(" (line 10, column 18)\n"), "{stderr}");
}

fn print(path: &Path) -> Output {
    bin()
        .args(["check", "--print", "-c"])
        .arg(path)
        .output()
        .unwrap()
}

#[test]
fn check_print_writes_the_effective_config_which_reads_back_the_same() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for file in files {
        let out = print(&file);
        assert!(out.status.success(), "{}: {out:?}", file.display());
        let printed = String::from_utf8(out.stdout).unwrap();
        let original = std::fs::read_to_string(&file).unwrap();
        let expected = sluicegate_config::parse(&original).unwrap();
        let reread = sluicegate_config::parse(&printed)
            .unwrap_or_else(|e| panic!("{}: {e}\n{printed}", file.display()));
        assert_eq!(reread, expected, "{}:\n{printed}", file.display());
        // And the printed file is one sluicegate itself accepts.
        let again = write_temp(&printed);
        assert!(check(again.path()).status.success(), "{printed}");
    }
}

#[test]
fn check_print_fills_in_every_default() {
    let file = write_temp(
        "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    connect_timeout: 1500ms\n    backends:\n      - address: localhost:9\n",
    );
    let out = print(file.path());
    assert!(out.status.success(), "{out:?}");
    let printed = String::from_utf8_lossy(&out.stdout);
    for line in [
        "drain_timeout: 30s\n",
        "access_log: false\n",
        "  debounce: 200ms\n",
        "  address: 127.0.0.1:9901\n",
        "    protocol: http\n",
        "    policy: round_robin\n",
        "    connect_timeout: 1s500ms\n",
        "    response_timeout: 30s\n",
        "    idle_timeout: 1m\n",
        "      ejection: 1s\n",
        "      max_ejection: 30s\n",
        "    panic_threshold: 0%\n",
        "    - address: 127.0.0.1:9  # localhost:9\n",
        "      weight: 1\n",
        "      down: false\n",
    ] {
        assert!(printed.contains(line), "no {line:?} in:\n{printed}");
    }
    assert!(
        printed.starts_with(&format!("# {}: ok: ", file.path().display())),
        "{printed}"
    );
    let invalid = write_temp("listeners: {}\n");
    let out = print(invalid.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stdout.is_empty(),
        "nothing is printed for an invalid file"
    );
}
