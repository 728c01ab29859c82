//! systemd's readiness protocol (`sd_notify`, for a `Type=notify` unit): `READY=1` once
//! the config is loaded and every listener and the admin API are bound;
//! `RELOADING=1` (with `MONOTONIC_USEC`, so systemd 253+ tells this reload from the
//! next) when a reload starts, then `READY=1` when it is over, applied or not;
//! `STOPPING=1` when the drain starts. A process that took over by a binary upgrade
//! says `MAINPID=` with its `READY=1`, and the one it replaced says nothing more. Each message carries a `STATUS=` line that
//! `systemctl status` shows.
//!
//! Without `NOTIFY_SOCKET` in the environment (not started by systemd) every call does
//! nothing. A message that cannot be sent is logged once at warn and never fails
//! anything: readiness is a courtesy to the supervisor, not a condition of serving.

use std::sync::atomic::{AtomicBool, Ordering};

use sd_notify::NotifyState;

/// Whether a failure to notify was logged already.
static WARNED: AtomicBool = AtomicBool::new(false);

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states)
        && !WARNED.swap(true, Ordering::Relaxed)
    {
        tracing::warn!("cannot notify systemd (NOTIFY_SOCKET): {e}");
    }
}

/// Serving: the config is loaded and everything is bound.
pub fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Serving, in place of the process it upgraded: systemd follows this one as the
/// service's main process from now on (the unit needs `NotifyAccess=all`).
pub fn ready_as_main(status: &str) {
    send(&[
        NotifyState::MainPid(std::process::id()),
        NotifyState::Ready,
        NotifyState::Status(status),
    ]);
}

/// A reload starts.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[
            NotifyState::Reloading,
            now,
            NotifyState::Status("reloading"),
        ]),
        Err(_) => send(&[NotifyState::Reloading, NotifyState::Status("reloading")]),
    }
}

/// The reload is over; `status` says how it went.
pub fn reloaded(status: &str) {
    ready(status);
}

/// The drain starts.
pub fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("draining")]);
}
