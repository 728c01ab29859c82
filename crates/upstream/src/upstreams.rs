//! Upstream connection pools, one per backend, aligned with a snapshot's clusters.
//!
//! A backend that stays in the config across a reload (same cluster and address, same
//! protocol and timeouts) keeps its pool, and so its warm connections.

use std::collections::HashMap;

use sluicegate_core::BackendKey;
use sluicegate_runtime::{Cluster, Snapshot};

use crate::backend_pool::BackendPool;
use crate::pool::SendBody;

/// One backend's pool.
#[derive(Debug)]
pub struct BackendUpstream<B> {
    /// Its connections.
    pub pool: BackendPool<B>,
}

// By hand: a derived `Clone` would require `B: Clone`.
impl<B> Clone for BackendUpstream<B> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
        }
    }
}

/// One cluster's backends, indexed like `Cluster::backends`.
#[derive(Debug)]
pub struct ClusterUpstream<B> {
    /// One entry per backend of the cluster, in the same order.
    pub backends: Vec<BackendUpstream<B>>,
}

/// Pools for every cluster of one snapshot, indexed like `Snapshot::clusters`.
#[derive(Debug)]
pub struct Upstreams<B> {
    /// One entry per cluster of the snapshot, in the same order.
    pub clusters: Vec<ClusterUpstream<B>>,
}

impl<B: SendBody + Unpin> Upstreams<B> {
    /// Builds pools for `snapshot`, reusing the previous pool of every backend that
    /// stayed with the same timeouts. Needs a tokio runtime (pools run reaper tasks).
    pub fn build(snapshot: &Snapshot, previous: Option<(&Snapshot, &Upstreams<B>)>) -> Self {
        let mut old: HashMap<&BackendKey, &BackendPool<B>> = HashMap::new();
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

fn backends<B: SendBody + Unpin>(
    cluster: &Cluster,
    old: &HashMap<&BackendKey, &BackendPool<B>>,
) -> Vec<BackendUpstream<B>> {
    cluster
        .backends
        .iter()
        .map(|backend| {
            let kept = old.get(&backend.key).filter(|p| p.fits(backend, cluster));
            let pool = kept.map_or_else(|| BackendPool::new(backend, cluster), |p| (*p).clone());
            BackendUpstream { pool }
        })
        .collect()
}
