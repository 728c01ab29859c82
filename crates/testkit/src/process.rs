//! A real `sluicegate run` process for the process-level tests ([`ProcessProxy`]):
//! started on a config file, its stderr collected line by line, its admin API found
//! from its log. The caller passes the binary's path, since
//! `env!("CARGO_BIN_EXE_sluicegate")` exists only in the binary's own tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tempfile::TempDir;

use crate::{PROCESS_WAIT, blocking, free_port, lines_of, poll, process_config, signal};

/// What [`ProcessProxy::serving`] returns: the temporary directory (removed when
/// dropped), the config file's path in it, the proxy's listener address and the proxy.
pub type Serving = (TempDir, PathBuf, SocketAddr, ProcessProxy);

/// A running `sluicegate run -c FILE` whose stderr lines are collected. Dropping it
/// kills the process and reaps it.
#[derive(Debug)]
pub struct ProcessProxy {
    child: Child,
    log: Mutex<Log>,
    addr: SocketAddr,
}

/// The stderr lines read so far, and the channel of the thread reading the next ones.
#[derive(Debug)]
struct Log {
    lines: Vec<String>,
    incoming: Receiver<String>,
}

impl ProcessProxy {
    /// Starts `bin run -c config` (`RUST_LOG=info`, `NO_COLOR=1`), whose listener is at
    /// `addr` (as the config says), and waits up to [`PROCESS_WAIT`] for it to log
    /// `listening on`; panics with its log if it does not.
    pub fn start(bin: impl AsRef<Path>, config: &Path, addr: SocketAddr) -> ProcessProxy {
        Self::start_with(bin, config, addr, &[])
    }

    /// [`ProcessProxy::start`] with more command-line arguments after `run -c FILE`.
    pub fn start_with(
        bin: impl AsRef<Path>,
        config: &Path,
        addr: SocketAddr,
        args: &[&str],
    ) -> ProcessProxy {
        let mut command = Command::new(bin.as_ref());
        command.args(["run", "-c"]).arg(config).args(args);
        Self::spawn(command, addr)
    }

    /// [`ProcessProxy::start`] with the environment variables `env` set for the child
    /// (e.g. `NOTIFY_SOCKET`).
    pub fn start_with_env(
        bin: impl AsRef<Path>,
        config: &Path,
        addr: SocketAddr,
        env: &[(&str, &Path)],
    ) -> ProcessProxy {
        let mut command = Command::new(bin.as_ref());
        command.args(["run", "-c"]).arg(config);
        command.envs(env.iter().copied());
        Self::spawn(command, addr)
    }

    /// [`ProcessProxy::start`] with at most `nofile` file descriptors (soft and hard
    /// limit, set by `sh`'s `ulimit -n` before it runs the binary).
    pub fn start_with_fd_limit(
        bin: impl AsRef<Path>,
        config: &Path,
        addr: SocketAddr,
        nofile: u64,
    ) -> ProcessProxy {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" run -c \"$1\""))
            .arg(bin.as_ref())
            .arg(config);
        Self::spawn(command, addr)
    }

    /// `bin run -c config --upgrade`, taking over from the process running on the
    /// config's upgrade socket: waits up to [`PROCESS_WAIT`] until it logs that it
    /// took over, and panics with its log if it does not.
    pub fn upgrade(bin: impl AsRef<Path>, config: &Path, addr: SocketAddr) -> ProcessProxy {
        let proxy = Self::start_with(bin, config, addr, &["--upgrade"]);
        assert!(
            poll(PROCESS_WAIT, || proxy
                .logged("took over from the running process")),
            "the new process did not take over: {:?}",
            proxy.log()
        );
        proxy
    }

    /// Waits up to [`PROCESS_WAIT`] for the process to exit and returns its status;
    /// kills it and panics after that.
    pub fn exit_status(&mut self) -> std::process::ExitStatus {
        crate::wait_exit(&mut self.child)
    }

    /// Runs `command` (a `sluicegate run`) as [`ProcessProxy::start`] does.
    /// `bin run -c config` started by systemd's `systemd-socket-activate -l addr` (the
    /// socket bound by it, handed over in `LISTEN_FDS`), and the body of the first
    /// request: the one whose connection makes it start the proxy, answered from the
    /// socket's queue. Panics if systemd-socket-activate is not installed.
    pub fn start_activated(
        bin: impl AsRef<Path>,
        config: &Path,
        addr: SocketAddr,
    ) -> (ProcessProxy, String) {
        let mut command = Command::new("systemd-socket-activate");
        command.arg("-l").arg(addr.to_string());
        command.arg(bin.as_ref()).args(["run", "-c"]).arg(config);
        let mut first = String::new();
        let proxy = Self::spawn_then(command, addr, || {
            // systemd-socket-activate binds before it forks: wait for its socket.
            poll(PROCESS_WAIT, || std::net::TcpStream::connect(addr).is_ok());
            first = blocking::get(addr);
        });
        (proxy, first)
    }

    fn spawn(command: Command, addr: SocketAddr) -> ProcessProxy {
        Self::spawn_then(command, addr, || {})
    }

    /// Runs `command`, then `then`, then waits for the proxy to log that it listens.
    fn spawn_then(mut command: Command, addr: SocketAddr, then: impl FnOnce()) -> ProcessProxy {
        let mut child = command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let stderr = child
            .stderr
            .take()
            .unwrap_or_else(|| panic!("the process has no stderr pipe"));
        let log = Mutex::new(Log {
            lines: Vec::new(),
            incoming: lines_of(stderr),
        });
        let proxy = ProcessProxy { child, log, addr };
        then();
        assert!(
            poll(PROCESS_WAIT, || proxy.logged("listening on")),
            "the proxy did not start: {:?}",
            proxy.log()
        );
        proxy
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A [`process_config`] routing to `backend` (one answering `"a"`) in a new
    /// temporary directory, and `bin` started on it; waits up to [`PROCESS_WAIT`] until
    /// it serves `"a"` and panics if it does not.
    pub fn serving(bin: impl AsRef<Path>, backend: SocketAddr) -> Serving {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
        let path = dir.path().join("sluicegate.yaml");
        let listen = free_port();
        std::fs::write(&path, process_config(listen, backend))
            .unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
        let proxy = ProcessProxy::start(bin, &path, listen);
        assert!(proxy.serves("a", PROCESS_WAIT), "{:?}", proxy.log());
        (dir, path, listen, proxy)
    }

    /// The address of the proxy's listener, as given to [`ProcessProxy::start`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// [`blocking::get`] through the proxy: the body, empty if the exchange failed.
    pub fn get(&self) -> String {
        blocking::get(self.addr)
    }

    /// Polls (up to `within`) until the proxy answers `name`; whether it did.
    pub fn serves(&self, name: &str, within: Duration) -> bool {
        poll(within, || self.get() == name)
    }

    /// Sends signal `name` (`TERM`, `INT`, `HUP`) to the process; panics if kill fails.
    pub fn signal(&self, name: &str) {
        signal(&self.child, name);
    }

    /// Sends SIGHUP (a reload).
    pub fn hup(&self) {
        self.signal("HUP");
    }
}

impl Drop for ProcessProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The process's log: stderr lines.
impl ProcessProxy {
    /// Every line the process has logged so far.
    pub fn log(&self) -> Vec<String> {
        self.read_log(<[String]>::to_vec)
    }

    /// Whether a line logged so far contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.read_log(|lines| lines.iter().any(|l| l.contains(text)))
    }

    /// How many lines logged so far contain `text`.
    pub fn count(&self, text: &str) -> usize {
        self.read_log(|lines| lines.iter().filter(|l| l.contains(text)).count())
    }

    /// The lines logged so far that contain `text`.
    pub fn lines(&self, text: &str) -> Vec<String> {
        self.read_log(|lines| lines.iter().filter(|l| l.contains(text)).cloned().collect())
    }

    /// Takes in the lines the reader thread has brought, then `read`s them all.
    fn read_log<T>(&self, read: impl FnOnce(&[String]) -> T) -> T {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let Log { lines, incoming } = &mut *log;
        lines.extend(incoming.try_iter());
        read(lines)
    }
}

/// The admin API.
impl ProcessProxy {
    /// The admin API's address, from the start-up log (`admin API on http://…/`).
    pub fn admin(&self) -> SocketAddr {
        self.read_log(|lines| {
            lines
                .iter()
                .find_map(|l| {
                    let rest = l.split("admin API on http://").nth(1)?;
                    rest.split('/').next()?.parse().ok()
                })
                .unwrap_or_else(|| panic!("no admin address in the log: {lines:?}"))
        })
    }

    /// [`blocking::request`] `method path` on the admin API: the status and the body.
    pub fn admin_request(&self, method: &str, path: &str) -> (u16, String) {
        blocking::request(self.admin(), method, path, "")
    }

    /// `sluicegate_config_reloads_total{result}` on `/metrics` (0 before the first).
    pub fn reloads(&self, result: &str) -> u64 {
        let series = format!("sluicegate_config_reloads_total{{result=\"{result}\"}} ");
        self.metric(&series) as u64
    }

    /// The value of `series` (its name and labels exactly, then a space) on
    /// `/metrics`; 0 when it is absent.
    pub fn metric(&self, series: &str) -> f64 {
        let (_, text) = self.admin_request("GET", "/metrics");
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// `GET /status`, parsed; panics if it is not JSON.
    pub fn status(&self) -> serde_json::Value {
        let (_, body) = self.admin_request("GET", "/status");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

/// The time of day of a log line, in seconds, from the RFC 3339 timestamp it starts
/// with; panics if it has none.
pub fn log_seconds(line: &str) -> f64 {
    let stamp = line.split_whitespace().next().unwrap_or("");
    let time = stamp.split('T').nth(1).unwrap_or("").trim_end_matches('Z');
    let parts: Vec<f64> = time.split(':').filter_map(|p| p.parse().ok()).collect();
    assert_eq!(parts.len(), 3, "no timestamp in {line:?}");
    parts[0] * 3600.0 + parts[1] * 60.0 + parts[2]
}
