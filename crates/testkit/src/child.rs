//! Child processes of a test: signals sent with kill(1) ([`signal`]), exits waited for
//! with a bound ([`wait_exit`]), output read line by line on a thread ([`lines_of`]).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::PROCESS_WAIT;

/// How often [`wait_exit`] checks whether the child has exited.
const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Sends signal `name` (`TERM`, `INT`, `HUP`) to `child` with kill(1); panics if kill
/// fails.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
    assert!(status.success(), "kill -{name} {}: {status}", child.id());
}

/// Waits up to [`PROCESS_WAIT`] for `child` to exit and returns its status; kills it
/// and panics after that.
pub fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PROCESS_WAIT;
    loop {
        let exited = child
            .try_wait()
            .unwrap_or_else(|e| panic!("cannot wait for the process: {e}"));
        if let Some(status) = exited {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the process did not exit within {PROCESS_WAIT:?}");
        }
        std::thread::sleep(EXIT_POLL_INTERVAL);
    }
}

/// The lines a child prints on `stream` (its piped stdout or stderr), read on a
/// thread so that waits for them can be bounded (`recv_timeout`). The thread ends when
/// the stream does or the receiver is dropped.
pub fn lines_of(stream: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
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
