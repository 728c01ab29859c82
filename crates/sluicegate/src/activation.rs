//! systemd socket activation: the listening sockets passed in `LISTEN_FDS` (a
//! `.socket` unit's `ListenStream=`), taken at start and bound by the listeners
//! configured on their addresses (`sluicegate_listener::Inherited`). With activation
//! the socket outlives the process: connections that arrive while sluicegate
//! restarts wait in its queue instead of being refused.
//!
//! Taken before any thread starts: reading them removes `LISTEN_FDS` and `LISTEN_PID`
//! from the environment (so a child never takes them too), which is only sound while
//! the process has one thread.

use std::net::TcpListener;

/// The TCP listening sockets systemd passed, if any; a descriptor that is not one is
/// logged and left alone.
pub fn take() -> Vec<TcpListener> {
    let mut passed = listenfd::ListenFd::from_env();
    let mut sockets = Vec::new();
    for i in 0..passed.len() {
        // Passed descriptors start at 3 (SD_LISTEN_FDS_START).
        match passed.take_tcp_listener(i) {
            Ok(Some(socket)) => sockets.push(socket),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                "LISTEN_FDS: descriptor {} is not a TCP listening socket ({e}): left alone",
                i + 3
            ),
        }
    }
    if !sockets.is_empty() {
        let addresses: Vec<String> = sockets
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .map(|a| a.to_string())
            .collect();
        tracing::info!(
            "socket activation: {} socket(s) from systemd: {}",
            sockets.len(),
            addresses.join(", ")
        );
    }
    sockets
}
