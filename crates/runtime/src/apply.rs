//! [`Apply`]: where the reload core hands a compiled snapshot, so the core does not
//! depend on the crate that serves it (`listener::Control` implements it; a test can
//! implement it with a plain `SnapshotHandle`).

use std::future::Future;
use std::sync::Arc;

use crate::Snapshot;

/// Serves compiled snapshots: the running one, and the next one in its place.
pub trait Apply {
    /// The snapshot being served (the base the next one is compiled against).
    fn current(&self) -> Arc<Snapshot>;

    /// Serves `next` in place of the current snapshot, listener changes included. On
    /// an error nothing changed and the current snapshot keeps serving.
    fn apply(&self, next: Snapshot) -> impl Future<Output = Result<(), ApplyError>> + Send;
}

/// Why a compiled snapshot could not be served; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A listener's address could not be bound: the same config may apply once the
    /// address is free.
    #[error("{message}")]
    Bind {
        /// The listener's name.
        listener: String,
        /// What went wrong, naming the listener and the address.
        message: String,
    },
    /// The server takes no new config (it is shutting down).
    #[error("{0}")]
    Refused(String),
}
