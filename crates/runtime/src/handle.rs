//! The live snapshot: lock-free reads, change notification.

use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::Snapshot;

/// Holds the current snapshot. The data plane calls [`SnapshotHandle::load`] once per
/// connection or request and keeps that `Arc` until it ends.
#[derive(Debug)]
pub struct SnapshotHandle {
    current: ArcSwap<Snapshot>,
    generation: watch::Sender<u64>,
}

impl SnapshotHandle {
    /// A handle publishing `first`.
    pub fn new(first: Snapshot) -> Self {
        let (generation, _) = watch::channel(first.generation);
        Self {
            current: ArcSwap::from_pointee(first),
            generation,
        }
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Publishes a new snapshot, then announces its generation. The data plane serves
    /// a snapshot once the listener crate's `Control::apply` publishes it (with its
    /// upstream pools); publishing here directly changes only what the control plane
    /// (admin API, health supervisor) sees.
    pub fn publish(&self, next: Snapshot) {
        let generation = next.generation;
        self.current.store(Arc::new(next));
        self.generation.send_replace(generation);
    }

    /// A receiver told of every newly published generation.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
}
