//! What the reload task and the admin API share about the running process.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use sluicegate_listener::Control;
use sluicegate_metrics::ProcessSeries;

use crate::discovery::DiscoveryStatus;
use crate::reload_log::ReloadLog;

/// Why the process drains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drain {
    /// A signal asked it to stop.
    Stopping,
    /// A new binary took its sockets over (`upgrade.rs`).
    HandedOver,
}

/// The running process, as the admin API and the reload task see it.
#[derive(Debug)]
pub struct State {
    /// Applies snapshots and reads the live one.
    pub control: Control,
    /// Reload counters, generation, build info.
    pub process: ProcessSeries,
    reloads: Mutex<ReloadLog>,
    /// Each discovered cluster's source and its last answer, by cluster name.
    discovery: Mutex<BTreeMap<String, DiscoveryStatus>>,
    draining: AtomicBool,
}

impl State {
    /// The state of a process that just loaded its config and bound its listeners.
    pub fn new(control: Control) -> Self {
        Self {
            control,
            process: ProcessSeries::register(
                env!("CARGO_PKG_VERSION"),
                env!("SLUICEGATE_COMMIT"),
                env!("SLUICEGATE_RUSTC"),
            ),
            reloads: Mutex::new(ReloadLog::new()),
            discovery: Mutex::new(BTreeMap::new()),
            draining: AtomicBool::new(false),
        }
    }

    /// The reload log, locked. Never held across an `.await`.
    pub fn reloads(&self) -> MutexGuard<'_, ReloadLog> {
        self.reloads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The discovered clusters' sources, locked. Never held across an `.await`.
    pub fn discovery(&self) -> MutexGuard<'_, BTreeMap<String, DiscoveryStatus>> {
        self.discovery
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the process as draining: `/ready` answers 503 from now on.
    pub fn start_draining(&self, why: Drain) {
        self.draining.store(true, Ordering::Relaxed);
        match why {
            Drain::Stopping => crate::notify::stopping(),
            // systemd follows the new process now: a STOPPING=1 from this one would
            // stop the service.
            Drain::HandedOver => {}
        }
    }

    /// `false` once draining started.
    pub fn is_ready(&self) -> bool {
        !self.draining.load(Ordering::Relaxed)
    }
}
