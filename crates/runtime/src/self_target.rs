//! A warning for a backend that is one of the process's own listeners: every request
//! to it would come back in (a loop, answered 508 after a few passes by the listener).

use std::net::SocketAddr;

use sluicegate_config::Config;

/// Logs a warning for each backend whose address is a listener's address (or, for a
/// listener on a wildcard address, a loopback or wildcard address on its port).
pub(crate) fn warn_of_self_targets(config: &Config) {
    for cluster in &config.clusters {
        for (i, backend) in cluster.backends.iter().enumerate() {
            let Some(listener) = config
                .listeners
                .iter()
                .find(|l| is_same_socket(l.address, backend.address))
            else {
                continue;
            };
            tracing::warn!(
                "clusters.{}.backends[{i}].address: {} is listener \"{}\" of this proxy: \
                 its requests would loop back in (answered 508 Loop Detected)",
                cluster.name,
                backend.address,
                listener.name,
            );
        }
    }
}

/// Whether a connection to `backend` would reach a socket bound to `listen`.
fn is_same_socket(listen: SocketAddr, backend: SocketAddr) -> bool {
    if listen.port() != backend.port() || listen.port() == 0 {
        return false;
    }
    let ip = backend.ip().to_canonical();
    listen.ip().to_canonical() == ip
        || (listen.ip().is_unspecified() && (ip.is_loopback() || ip.is_unspecified()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn same_sockets() {
        let same = |l: &str, b: &str| is_same_socket(l.parse().unwrap(), b.parse().unwrap());
        assert!(same("127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(same("0.0.0.0:8080", "127.0.0.1:8080"));
        assert!(same("[::]:8080", "[::1]:8080"));
        assert!(!same("127.0.0.1:8080", "127.0.0.1:8081"));
        assert!(!same("127.0.0.1:8080", "127.0.0.2:8080"));
        assert!(!same("127.0.0.1:0", "127.0.0.1:0"));
    }
}
