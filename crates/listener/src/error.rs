//! [`ServeError`]: the listener crate's one error type, at the foot of the crate (it
//! imports nothing from it), so the server, its bound listeners and [`crate::Control`]
//! all use it without importing one another.

use std::io;
use std::net::SocketAddr;

/// A failure to start serving, or to apply a new snapshot
/// ([`crate::Control::apply`]).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener's address could not be bound (in use, not local, no permission).
    #[error("listener {listener}: cannot bind {address}: {reason}")]
    Bind {
        /// Listener name.
        listener: String,
        /// The address it wanted.
        address: SocketAddr,
        /// Why the OS said no. Part of the message, not a `source`: an error chain
        /// printed whole would show it twice.
        reason: io::Error,
    },
    /// The server is shutting down and takes no new config.
    #[error("the server is shutting down")]
    Stopped,
}
