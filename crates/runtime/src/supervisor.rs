//! The health supervisor: one checker task per checked backend, reconciled with each
//! published snapshot. Removed backends stop being checked, new ones start; a backend
//! whose identity and check stay keeps its task, so its rise/fall counters and its
//! state survive the reload. A changed check restarts the task from the cell's state.

use std::collections::HashMap;
use std::sync::Arc;

use sluicegate_core::BackendKey;
use sluicegate_health::{Check, run_checker};
use tokio::task::AbortHandle;

use crate::{Snapshot, SnapshotHandle};

/// A running checker task, aborted when dropped.
#[derive(Debug)]
struct Task {
    check: Arc<Check>,
    handle: AbortHandle,
}

impl Drop for Task {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// The checker tasks of the live snapshot. Dropping it stops every check.
#[derive(Debug, Default)]
pub struct HealthSupervisor {
    tasks: HashMap<BackendKey, Task>,
}

impl HealthSupervisor {
    /// A supervisor running nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts, keeps and stops checker tasks so that exactly the checked backends of
    /// `snapshot` (not marked down) have one. Needs a tokio runtime.
    pub fn reconcile(&mut self, snapshot: &Snapshot) {
        let mut kept = HashMap::with_capacity(self.tasks.len());
        for cluster in &snapshot.clusters {
            for backend in &cluster.backends {
                let Some(check) = cluster.health.check.as_ref().filter(|_| !backend.down) else {
                    if cluster.health.check.is_none() && backend.health().set_unhealthy(false) {
                        tracing::info!(backend = %backend.key, "health checks removed: backend back in rotation");
                    }
                    continue;
                };
                if let Some(task) = self.tasks.remove(&backend.key)
                    && task.check == *check
                {
                    kept.insert(backend.key.clone(), task);
                    continue;
                }
                let handle = tokio::spawn(run_checker(
                    backend.address(),
                    backend.key.to_string(),
                    check.clone(),
                    backend.health().clone(),
                    backend.health_series.clone(),
                ))
                .abort_handle();
                let task = Task {
                    check: check.clone(),
                    handle,
                };
                kept.insert(backend.key.clone(), task);
            }
        }
        // Whatever is left belongs to removed backends: dropping aborts it.
        self.tasks = kept;
    }
}

/// Runs checks for the live snapshot of `handle`, following every published
/// generation, until this future is dropped (the server aborts it when it stops);
/// every task it started stops with it.
pub async fn supervise(handle: Arc<SnapshotHandle>) {
    let mut generations = handle.subscribe();
    let mut supervisor = HealthSupervisor::new();
    supervisor.reconcile(&handle.load());
    while generations.changed().await.is_ok() {
        supervisor.reconcile(&handle.load());
    }
}
