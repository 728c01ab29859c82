//! Upstream connection pools, one per backend, aligned with a snapshot's clusters.
//!
//! A backend that stays in the config across a reload (same cluster and address, same
//! timeouts) keeps its pool, and so its warm keep-alive connections.

use std::collections::HashMap;

use sluicegate_core::BackendKey;
use sluicegate_runtime::{Cluster, Snapshot};

use crate::pool::Pool;

/// One backend's pool.
#[derive(Clone, Debug)]
pub(crate) struct BackendUpstream {
    /// Its keep-alive connections.
    pub(crate) pool: Pool,
}

/// One cluster's backends, indexed like `Cluster::backends`.
#[derive(Clone, Debug)]
pub(crate) struct ClusterUpstream {
    pub(crate) backends: Vec<BackendUpstream>,
}

/// Pools for every cluster of one snapshot, indexed like `Snapshot::clusters`.
#[derive(Debug)]
pub(crate) struct Upstreams {
    pub(crate) clusters: Vec<ClusterUpstream>,
}

impl Upstreams {
    /// Builds pools for `snapshot`, reusing the previous pool of every backend that
    /// stayed with the same timeouts. Needs a tokio runtime (pools run reaper tasks).
    pub(crate) fn build(snapshot: &Snapshot, previous: Option<(&Snapshot, &Upstreams)>) -> Self {
        let mut old: HashMap<&BackendKey, &Pool> = HashMap::new();
        if let Some((snap, ups)) = previous {
            for (cluster, upstream) in snap.clusters.iter().zip(&ups.clusters) {
                for (backend, up) in cluster.backends.iter().zip(&upstream.backends) {
                    old.insert(&backend.key, &up.pool);
                }
            }
        }
        let clusters = snapshot
            .clusters
            .iter()
            .map(|cluster| ClusterUpstream {
                backends: backends(cluster, &old),
            })
            .collect();
        Self { clusters }
    }
}

fn backends(cluster: &Cluster, old: &HashMap<&BackendKey, &Pool>) -> Vec<BackendUpstream> {
    cluster
        .backends
        .iter()
        .map(|backend| {
            let kept = old
                .get(&backend.key)
                .filter(|p| p.has_timeouts(cluster.connect_timeout, cluster.idle_timeout));
            let pool = kept.map_or_else(
                || {
                    Pool::new(
                        backend.address(),
                        cluster.connect_timeout,
                        cluster.idle_timeout,
                    )
                },
                |p| (*p).clone(),
            );
            BackendUpstream { pool }
        })
        .collect()
}
