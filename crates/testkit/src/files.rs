//! Config files of the process-level tests: the config text ([`process_config`]),
//! saves that can never be read half-written ([`save`]), and a thread keeping the
//! config's directory busy ([`Scribbler`]).

use std::fmt::Display;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a [`Scribbler`] sleeps between rounds.
const SCRIBBLE_INTERVAL: Duration = Duration::from_millis(10);

/// A config with listener `web` on `listen` routing to cluster `app`, whose one
/// backend is `backend` as written (`127.0.0.1:9001`, `localhost:9001`), and the
/// admin API on `127.0.0.1:0`.
pub fn process_config(listen: SocketAddr, backend: impl Display) -> String {
    format!(
        "listeners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: {backend}\n\
         admin:\n  address: 127.0.0.1:0\n"
    )
}

/// Saves `text` to `path` atomically (a temporary file renamed over it), so a proxy
/// can never read it half-written, however slow this process is.
pub fn save(path: &Path, text: &str) {
    let temp = path.with_extension("saving");
    std::fs::write(&temp, text).unwrap_or_else(|e| panic!("cannot write {temp:?}: {e}"));
    std::fs::rename(&temp, path)
        .unwrap_or_else(|e| panic!("cannot rename {temp:?} to {path:?}: {e}"));
}

/// A thread busy in a config's directory until stopped or dropped: every 10 ms it
/// appends a line to `sluicegate.log`, creates and removes `other.tmp`, and (if asked)
/// reads the config file.
#[derive(Debug)]
pub struct Scribbler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<usize>>,
}

impl Scribbler {
    /// Starts scribbling in the directory of `config`, reading `config` itself each
    /// round when `read_config` is set.
    pub fn start(config: &Path, read_config: bool) -> Scribbler {
        let stop = Arc::new(AtomicBool::new(false));
        let dir = config
            .parent()
            .unwrap_or_else(|| panic!("{config:?} has no directory"))
            .to_path_buf();
        let read = read_config.then(|| config.to_path_buf());
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || scribble(&dir, read.as_deref(), &stopped));
        Scribbler {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the thread and returns how many rounds it wrote; panics if it failed.
    pub fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().map_or(0, |thread| {
            thread
                .join()
                .unwrap_or_else(|_| panic!("the scribbler failed"))
        })
    }
}

impl Drop for Scribbler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The scribbler's loop: rounds in `dir` (reading `config` when given) until `stop`;
/// how many rounds it wrote.
fn scribble(dir: &Path, config: Option<&Path>, stop: &AtomicBool) -> usize {
    let log_path = dir.join("sluicegate.log");
    let other = dir.join("other.tmp");
    let mut log = std::fs::File::create(&log_path)
        .unwrap_or_else(|e| panic!("cannot create {log_path:?}: {e}"));
    let mut rounds = 0;
    while !stop.load(Ordering::SeqCst) {
        writeln!(log, "line {rounds}").unwrap_or_else(|e| panic!("cannot write the log: {e}"));
        std::fs::write(&other, "x").unwrap_or_else(|e| panic!("cannot write {other:?}: {e}"));
        std::fs::remove_file(&other).unwrap_or_else(|e| panic!("cannot remove {other:?}: {e}"));
        if let Some(config) = config {
            let _ = std::fs::read(config);
        }
        rounds += 1;
        std::thread::sleep(SCRIBBLE_INTERVAL);
    }
    rounds
}
