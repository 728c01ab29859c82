//! Why a reload was asked for: made by the file watcher, SIGHUP, `POST /reload` and
//! the retry timer, handled by the reload task.

use tokio::sync::oneshot;

use sluicegate_runtime::ReloadOutcome;

/// Why a reload was asked for.
#[derive(Debug)]
pub enum Trigger {
    /// The config file's directory changed: reload if the file's content did.
    File,
    /// SIGHUP: reload now, even if the file looks unchanged.
    Signal,
    /// `POST /reload`: reload now and answer with the outcome.
    Admin(oneshot::Sender<ReloadOutcome>),
    /// The retry timer after a listener failed to bind or a name did not resolve:
    /// reload the same bytes again.
    Retry,
}

impl Trigger {
    /// The trigger as `/status` names it: `file`, `signal`, `admin` or `retry`.
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::File => "file",
            Trigger::Signal => "signal",
            Trigger::Admin(_) => "admin",
            Trigger::Retry => "retry",
        }
    }
}
