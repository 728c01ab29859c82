//! A real `sluicegate run` process for the process-level tests: started on a config
//! file, its stderr collected, its admin API found from its log.
#![allow(dead_code)] // Each test file uses part of the harness.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bound on process start and exit.
pub const WAIT: Duration = Duration::from_secs(20);
/// Bound on a save being applied: the target is 2 s; the slack absorbs a busy CI box.
pub const APPLIED: Duration = Duration::from_secs(6);

/// A backend on 127.0.0.1:0 answering every request with `name`, then closing.
pub fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{name}",
                name.len()
            );
        }
    });
    addr
}

pub fn config(listen: SocketAddr, backend: SocketAddr) -> String {
    format!(
        "listeners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: {backend}\n\
         admin:\n  address: 127.0.0.1:0\n"
    )
}

pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A running `sluicegate run` whose stderr lines are collected.
pub struct Proxy {
    pub child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
    pub addr: SocketAddr,
}

impl Proxy {
    pub fn start(path: &Path, addr: SocketAddr) -> Proxy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
            .args(["run", "-c"])
            .arg(path)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let proxy = Proxy { child, log, addr };
        assert!(
            poll(WAIT, || proxy.logged("listening on")),
            "the proxy did not start: {:?}",
            proxy.log.lock().unwrap()
        );
        proxy
    }

    pub fn get(&self) -> String {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, WAIT) else {
            return String::new();
        };
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let _ = write!(
            stream,
            "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        );
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        response.rsplit("\r\n\r\n").next().unwrap_or("").to_owned()
    }

    pub fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(text))
    }

    pub fn count(&self, text: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    /// The admin API's address, from the start-up log.
    pub fn admin(&self) -> SocketAddr {
        let log = self.log.lock().unwrap();
        log.iter()
            .find_map(|l| {
                let rest = l.split("admin API on http://").nth(1)?;
                rest.split('/').next()?.parse().ok()
            })
            .unwrap_or_else(|| panic!("no admin address in the log: {log:?}"))
    }

    /// `method path` on the admin API: status and body.
    pub fn admin_request(&self, method: &str, path: &str) -> (u16, String) {
        request(self.admin(), method, path, "")
    }

    /// Polls until the proxy answers `name`.
    pub fn serves(&self, name: &str, within: Duration) -> bool {
        poll(within, || self.get() == name)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn poll(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    condition()
}

/// A config file in a temp dir routing to `a` (a backend answering "a"), and a proxy
/// started on it and serving it.
pub fn serving(a: SocketAddr) -> (tempfile::TempDir, std::path::PathBuf, SocketAddr, Proxy) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    std::fs::write(&path, config(listen, a)).unwrap();
    let proxy = Proxy::start(&path, listen);
    assert!(proxy.serves("a", WAIT));
    (dir, path, listen, proxy)
}

/// One request with `Connection: close` and extra header lines `headers`
/// (`"Name: value\r\n"` each): status and body; `(0, "")` if the exchange failed.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, WAIT) else {
        return (0, String::new());
    };
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let _ = write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n{headers}Connection: close\r\n\r\n"
    );
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}
