//! State a [`crate::Server`] shares with its [`crate::Control`] handles: the live
//! snapshot with its upstream pools, and the registry of bound listeners.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use sluicegate_http::Live;
use sluicegate_runtime::{Snapshot, SnapshotHandle};
use tokio::sync::Notify;

use crate::bound::{Accepting, Bound};
use crate::inherited::Inherited;
use crate::workers::Workers;

/// The bound listeners and whether the server still takes new ones.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// Every listener that is bound and not removed, in bind order.
    pub(crate) listeners: Vec<Bound>,
    /// Set when the server starts shutting down: no listener is added after that.
    pub(crate) stopped: bool,
}

/// Shared between the run loop and every `Control`.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Where snapshots are published.
    pub(crate) handle: Arc<SnapshotHandle>,
    /// The published snapshot with its upstream pools, read once per request: the
    /// one value the data plane reads. It always holds the handle's snapshot: both
    /// change only in [`Shared::publish`].
    pub(crate) live: Arc<ArcSwap<Live>>,
    registry: Mutex<Registry>,
    /// Tells the run loop that `registry` holds sockets without an accept loop.
    pub(crate) wake: Notify,
    /// One `Control::apply` at a time.
    pub(crate) applying: tokio::sync::Mutex<()>,
    /// Where accept loops run: one per listener and worker.
    pub(crate) workers: Workers,
    /// Client connections open on every listener, for the process's
    /// `max_connections`.
    pub(crate) connections: Arc<AtomicUsize>,
    /// Sockets handed to the process at start, for the listeners that bind them.
    pub(crate) inherited: Inherited,
}

impl Shared {
    /// State for `listeners`, bound to serve the handle's current snapshot.
    pub(crate) fn new(
        handle: Arc<SnapshotHandle>,
        listeners: Vec<Bound>,
        workers: Workers,
        inherited: Inherited,
    ) -> Self {
        let snapshot = handle.load();
        Self {
            handle,
            live: Arc::new(ArcSwap::from_pointee(Live::build(snapshot, None))),
            registry: Mutex::new(Registry {
                listeners,
                stopped: false,
            }),
            wake: Notify::new(),
            applying: tokio::sync::Mutex::new(()),
            workers,
            connections: Arc::default(),
            inherited,
        }
    }

    /// Publishes `next`: to the handle (the control plane's view: admin, health
    /// supervisor) and, with its pools (those of unchanged backends kept), to `live`.
    /// Only `Control::apply` calls it, under the registry's lock, so one snapshot's
    /// pools are built once and the two never disagree for longer than this call.
    pub(crate) fn publish(&self, next: Snapshot) {
        self.handle.publish(next);
        let previous = self.live.load_full();
        let live = Live::build(self.handle.load(), Some(&previous));
        self.live.store(Arc::new(live));
    }

    /// The registry, locked. Never held across an `.await`.
    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sockets bound since the last call, for the run loop to accept on.
    pub(crate) fn take_pending(&self) -> Vec<Accepting> {
        self.registry()
            .listeners
            .iter_mut()
            .filter_map(|l| l.pending.take())
            .collect()
    }

    /// Marks the server as shutting down and closes sockets no loop accepts on yet.
    pub(crate) fn stop(&self) {
        let mut registry = self.registry();
        registry.stopped = true;
        for listener in &mut registry.listeners {
            listener.pending = None;
            listener.handover.clear();
        }
    }
}
