//! The running sources: one task per discovered cluster of the running config, kept
//! while its spec stays, replaced when it changes, stopped when the cluster leaves.

use std::collections::BTreeMap;

use sluicegate_config::{Config, DiscoverySpec};
use sluicegate_core::ClusterName;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::update::Update;

/// Answers waiting for the reload side, at most, all sources together: past it a
/// source waits to send, so a slow reload holds the sources back rather than letting
/// answers pile up.
const PENDING_UPDATES: usize = 64;

/// The channel sources send their answers on.
pub fn channel() -> (mpsc::Sender<Update>, mpsc::Receiver<Update>) {
    mpsc::channel(PENDING_UPDATES)
}

/// One task per discovered cluster, aborted when dropped.
#[derive(Debug)]
pub struct Sources {
    running: BTreeMap<ClusterName, (DiscoverySpec, JoinHandle<()>)>,
    updates: mpsc::Sender<Update>,
}

impl Sources {
    /// No sources yet; they will send on `updates`.
    pub fn new(updates: mpsc::Sender<Update>) -> Self {
        Self {
            running: BTreeMap::new(),
            updates,
        }
    }

    /// Runs a source for each discovered cluster of `config`: one whose spec stays
    /// keeps its task (and its timing), a new or changed one starts at once, and the
    /// tasks of clusters gone or changed stop. Call on the runtime the tasks run on.
    pub fn reconcile(&mut self, config: &Config) {
        let wanted: BTreeMap<&ClusterName, &DiscoverySpec> = config
            .clusters
            .iter()
            .filter_map(|c| Some((&c.name, c.discovery.as_ref()?)))
            .collect();
        self.running.retain(|name, (spec, task)| {
            let keep = wanted.get(name) == Some(&&*spec);
            if !keep {
                task.abort();
            }
            keep
        });
        for (name, spec) in wanted {
            if self.running.contains_key(name) {
                continue;
            }
            let task = crate::source::run(name.clone(), spec.clone(), self.updates.clone());
            let task = tokio::spawn(task);
            self.running.insert(name.clone(), (spec.clone(), task));
        }
    }

    /// How many sources run.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

impl Drop for Sources {
    fn drop(&mut self) {
        for (_, task) in self.running.values() {
            task.abort();
        }
    }
}
