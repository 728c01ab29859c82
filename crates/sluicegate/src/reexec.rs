//! SIGUSR2, the documented signal for a binary upgrade (nginx's): the running process
//! starts the program its own command line names (the file on disk now: the new
//! binary installed over the old) with its own arguments and `--upgrade`, and the
//! child takes over through the upgrade socket (`upgrade.rs`). Started by this
//! process, the child stays in its service's cgroup, so systemd follows it as the
//! main process (`MAINPID=`; the unit needs `NotifyAccess=all`); its log goes where
//! this one's goes.
//!
//! One child at a time. A child that exits without taking over (a config that does
//! not load, a port it cannot bind) is logged with its status, and this process goes
//! on serving. Without `admin.upgrade_socket` the signal is logged and ignored: its
//! default action would end the process.

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{SignalKind, signal};

/// Listens for SIGUSR2 for the life of the process; `upgradable`: the config has an
/// upgrade socket.
pub fn listen(upgradable: bool) {
    let mut usr2 = match signal(SignalKind::user_defined2()) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::error!("cannot listen for SIGUSR2 (binary upgrade): {e}");
            return;
        }
    };
    let starting = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while usr2.recv().await.is_some() {
            if !upgradable {
                tracing::warn!(
                    "SIGUSR2: ignored, the config sets no admin.upgrade_socket to upgrade through"
                );
            } else if starting.swap(true, Ordering::SeqCst) {
                tracing::warn!("SIGUSR2: ignored, a new binary is starting already");
            } else {
                start(starting.clone());
            }
        }
    });
}

/// Starts the new binary; `starting` is cleared if it ends without taking over.
fn start(starting: Arc<AtomicBool>) {
    let mut command = command();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::error!("SIGUSR2: cannot start {command:?}: {e}; still serving");
            starting.store(false, Ordering::SeqCst);
            return;
        }
    };
    tracing::info!("SIGUSR2: started the new binary as process {}", child.id());
    // Waited for on a thread of its own: one that takes over outlives this process,
    // so the wait ends only for one that failed.
    std::thread::spawn(move || {
        match child.wait() {
            Ok(status) => tracing::warn!(
                "SIGUSR2: the new binary exited ({status}) without taking over; still serving"
            ),
            Err(e) => tracing::warn!("SIGUSR2: cannot wait for the new binary: {e}"),
        }
        starting.store(false, Ordering::SeqCst);
    });
}

/// This process's command line, with `--upgrade`.
fn command() -> Command {
    let mut args = std::env::args_os();
    let program = args.next().unwrap_or_else(|| OsString::from("sluicegate"));
    let mut rest: Vec<OsString> = args.collect();
    if !rest.iter().any(|a| a == "--upgrade") {
        rest.push(OsString::from("--upgrade"));
    }
    let mut command = Command::new(program);
    command.args(rest).stdin(Stdio::null());
    command
}
