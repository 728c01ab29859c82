//! The reload history `/status` shows: when the process started and loaded its config,
//! and the last attempt.

use std::time::{Instant, SystemTime};

use sluicegate_runtime::ReloadOutcome;

/// One reload attempt, for `/status`.
#[derive(Clone, Debug)]
pub struct ReloadAttempt {
    /// When it ran.
    pub at: SystemTime,
    /// `file`, `signal`, `admin` or `retry`.
    pub trigger: &'static str,
    /// What it did.
    pub outcome: ReloadOutcome,
}

/// The reload history `/status` shows.
#[derive(Debug)]
pub struct ReloadLog {
    /// When the process started serving.
    pub started: Instant,
    /// When the config being served was loaded (start or last applied reload).
    pub loaded_at: SystemTime,
    /// The last attempt since start.
    pub last: Option<ReloadAttempt>,
}

impl ReloadLog {
    /// The log of a process that loaded its config now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            loaded_at: SystemTime::now(),
            last: None,
        }
    }
}
