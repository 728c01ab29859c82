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
    answer(listener, name);
    addr
}

/// A backend for `localhost:PORT`: on 127.0.0.1 and, where the host has IPv6, on
/// [::1] with the same port, so every address `localhost` may resolve to answers
/// `name`. Returns the port.
pub fn localhost_backend(name: &'static str) -> u16 {
    for _ in 0..20 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        match TcpListener::bind(("::1", port)) {
            Ok(v6) => answer(v6, name),
            // The port is free on 127.0.0.1 only: try another.
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            // No IPv6 on this host: `localhost` is 127.0.0.1 only.
            Err(_) => {}
        }
        answer(listener, name);
        return port;
    }
    panic!("no port free on both 127.0.0.1 and [::1]");
}

/// Answers every request on `listener` with `name`, then closes, on a thread.
fn answer(listener: TcpListener, name: &'static str) {
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
}

pub fn config(listen: SocketAddr, backend: SocketAddr) -> String {
    config_for(listen, &backend.to_string())
}

/// [`config`] with the backend's address as written (`localhost:9001`).
pub fn config_for(listen: SocketAddr, backend: &str) -> String {
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
        Self::start_with(path, addr, &[])
    }

    /// [`Proxy::start`] with more command-line arguments after `run -c FILE`.
    pub fn start_with(path: &Path, addr: SocketAddr, args: &[&str]) -> Proxy {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluicegate"))
            .args(["run", "-c"])
            .arg(path)
            .args(args)
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
        get(self.addr)
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

/// `GET /` on `addr`: the body, empty if the exchange failed.
pub fn get(addr: SocketAddr) -> String {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, WAIT) else {
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

impl Proxy {
    /// `sluicegate_config_reloads_total{result}` on `/metrics` (0 before the first).
    pub fn reloads(&self, result: &str) -> u64 {
        let (_, text) = self.admin_request("GET", "/metrics");
        let series = format!("sluicegate_config_reloads_total{{result=\"{result}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series)?.trim().parse::<f64>().ok())
            .map_or(0, |n| n as u64)
    }

    /// `GET /status`, parsed.
    pub fn status(&self) -> serde_json::Value {
        let (_, body) = self.admin_request("GET", "/status");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// Sends SIGHUP.
    pub fn hup(&self) {
        let status = Command::new("kill")
            .arg("-HUP")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The log lines containing `text`.
    pub fn lines(&self, text: &str) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.iter().filter(|l| l.contains(text)).cloned().collect()
    }
}

/// The time of day of a log line, in seconds, from its RFC 3339 timestamp.
pub fn log_seconds(line: &str) -> f64 {
    let stamp = line.split_whitespace().next().unwrap_or("");
    let time = stamp.split('T').nth(1).unwrap_or("").trim_end_matches('Z');
    let parts: Vec<f64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    assert_eq!(parts.len(), 3, "no timestamp in {line:?}");
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}

/// A thread busy in the config's directory until dropped: appends to a log file,
/// creates and removes another file, and (with `read_config`) reads the config file,
/// every 10 ms.
pub struct Scribbler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<usize>>,
}

impl Scribbler {
    pub fn start(config: &Path, read_config: bool) -> Scribbler {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let dir = config.parent().unwrap().to_path_buf();
        let config = config.to_path_buf();
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut log = std::fs::File::create(dir.join("sluicegate.log")).unwrap();
            let mut rounds = 0;
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                writeln!(log, "line {rounds}").unwrap();
                std::fs::write(dir.join("other.tmp"), "x").unwrap();
                std::fs::remove_file(dir.join("other.tmp")).unwrap();
                if read_config {
                    let _ = std::fs::read(&config);
                }
                rounds += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            rounds
        });
        Scribbler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the thread; how many rounds it wrote.
    pub fn stop(mut self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.take().map_or(0, |t| t.join().unwrap())
    }
}

impl Drop for Scribbler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Saves `text` to `path` atomically (a temporary file renamed over it), so the
/// proxy can never read it half-written, however slow this process is.
pub fn save(path: &Path, text: &str) {
    let temp = path.with_extension("saving");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

/// Sends signal `name` (`TERM`, `INT`, `HUP`) to `child` with kill(1).
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits up to [`WAIT`] for `child` to exit; kills it and panics after that.
pub fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lines a child prints, read on a thread so waits can be bounded.
pub fn lines_of(stream: impl Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}
