//! Lifecycle phases: the server's (shutdown) and each listener's (removal by a
//! reload), watched together by accept loops and connections.

use tokio::sync::watch;

/// Lifecycle state sent to accept loops and connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd)]
pub(crate) enum Phase {
    /// Accepting and serving.
    Serving,
    /// Stop accepting; connections finish their in-flight request, then close.
    Draining,
    /// The drain timeout passed: close what is left.
    Closing,
}

/// The server's phase and one listener's, read together: whichever is further along
/// wins, so a connection drains on shutdown and on its listener's removal alike.
#[derive(Clone, Debug)]
pub(crate) struct Phases {
    server: watch::Receiver<Phase>,
    listener: watch::Receiver<Phase>,
}

impl Phases {
    /// Watches `server` and `listener`.
    pub(crate) fn new(server: watch::Receiver<Phase>, listener: watch::Receiver<Phase>) -> Self {
        Self { server, listener }
    }

    /// Resolves once either phase is at least `phase` (or its sender is gone).
    pub(crate) async fn reached(&mut self, phase: Phase) {
        tokio::select! {
            () = reached(&mut self.server, phase) => {}
            () = reached(&mut self.listener, phase) => {}
        }
    }
}

/// Resolves once the phase is at least `phase` (or the sender is gone).
async fn reached(rx: &mut watch::Receiver<Phase>, phase: Phase) {
    let _ = rx.wait_for(|p| *p >= phase).await;
}
