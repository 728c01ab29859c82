//! Test only: where the reload core's tests serve their snapshots.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sluicegate_config::Config;

use crate::apply::{Apply, ApplyError};
use crate::{Snapshot, SnapshotHandle};

/// Serves into a handle, counting applies; refuses to bind listener `taken`.
pub(crate) struct Target {
    pub(crate) handle: SnapshotHandle,
    pub(crate) applies: AtomicUsize,
}

impl Apply for &Target {
    fn current(&self) -> Arc<Snapshot> {
        self.handle.load()
    }

    async fn apply(&self, next: Snapshot) -> Result<(), ApplyError> {
        if next.listeners.iter().any(|l| l.name.as_str() == "taken") {
            return Err(ApplyError::Bind {
                listener: "taken".into(),
                message: "listener taken: cannot bind".into(),
            });
        }
        self.applies.fetch_add(1, Ordering::SeqCst);
        self.handle.publish(next);
        Ok(())
    }
}

/// `text` parsed, and a target serving its first snapshot.
pub(crate) fn start(text: &str) -> (Target, Config) {
    let config = sluicegate_config::parse(text).expect("a valid config");
    let first = crate::compile(&config, None).expect("it compiles");
    let target = Target {
        handle: SnapshotHandle::new(first),
        applies: AtomicUsize::new(0),
    };
    (target, config)
}
