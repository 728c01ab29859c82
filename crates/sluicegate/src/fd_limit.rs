//! The process's file-descriptor limit, raised at start from the soft limit to the
//! hard one (HAProxy raises `ulimit-n` itself, nginx has `worker_rlimit_nofile`):
//! every client connection takes a descriptor and its upstream connection another,
//! and distributions still start services with a soft limit of 1024. Both limits are
//! logged, and a warning says when the configured connection limits need more
//! descriptors than the process may open (accepts would then fail with `EMFILE`,
//! which the accept loops survive by backing off, but the limits would never bind).

use sluicegate_config::Config;

/// Descriptors kept for what is not a connection: the listening sockets, the admin
/// API, the config watcher, the runtime's epoll and wake-up descriptors, logs.
const RESERVED: u64 = 64;

/// Raises the soft limit to the hard one and logs both; the soft limit in force after.
pub fn raise() -> Option<u64> {
    let (soft, hard) = match rlimit::getrlimit(rlimit::Resource::NOFILE) {
        Ok(limits) => limits,
        Err(error) => {
            tracing::warn!("cannot read the file descriptor limit: {error}");
            return None;
        }
    };
    match rlimit::increase_nofile_limit(hard) {
        Ok(now) if now > soft => {
            tracing::info!("file descriptor limit raised from {soft} to {now} (hard limit {hard})");
            Some(now)
        }
        Ok(now) => {
            tracing::info!("file descriptor limit: {now} (hard limit {hard})");
            Some(now)
        }
        Err(error) => {
            tracing::warn!(
                "file descriptor limit {soft} (hard {hard}) could not be raised: {error}"
            );
            Some(soft)
        }
    }
}

/// Warns when `config`'s connection limits need more descriptors than `limit`.
pub fn check(limit: u64, config: &Config) {
    let listeners: u64 = config
        .listeners
        .iter()
        .map(|l| u64::from(l.max_connections))
        .sum();
    let connections = config
        .max_connections
        .map_or(listeners, |process| listeners.min(u64::from(process)));
    // A connection and its upstream connection each take one.
    let needed = connections.saturating_mul(2).saturating_add(RESERVED);
    if needed > limit {
        tracing::warn!(
            "the connection limits allow {connections} client connections, which need about {needed} file descriptors, but the limit is {limit}: raise it (ulimit -n, LimitNOFILE=) or lower max_connections"
        );
    }
}
