//! [`Live`]: what one request reads, a snapshot and the upstream pools built for it.

use std::sync::Arc;

use sluicegate_runtime::{Backend, Cluster, Snapshot};

use crate::pool::SendBody;
use crate::upstreams::{BackendUpstream, ClusterUpstream, Upstreams};

/// What one request reads: a snapshot and its matching upstream pools, sending
/// request bodies of type `B`. The two are indexed alike; read them together through
/// [`Live::cluster`] and [`LiveCluster::backend`], which never hand out one without
/// the other.
#[derive(Debug)]
pub struct Live<B> {
    /// The compiled config.
    pub snapshot: Arc<Snapshot>,
    /// One pool per backend of `snapshot`, indexed like its clusters and backends.
    pub upstreams: Upstreams<B>,
}

impl<B: SendBody + Unpin> Live<B> {
    /// `snapshot` with pools built for it, reusing those of `previous` for every
    /// backend that stayed with the same timeouts. Needs a tokio runtime (pools run
    /// reaper tasks).
    pub fn build(snapshot: Arc<Snapshot>, previous: Option<&Live<B>>) -> Self {
        let previous = previous.map(|p| (&*p.snapshot, &p.upstreams));
        let upstreams = Upstreams::build(&snapshot, previous);
        Self {
            snapshot,
            upstreams,
        }
    }
}

impl<B> Live<B> {
    /// Cluster `index` of the snapshot, with its pools.
    pub fn cluster(&self, index: usize) -> Option<LiveCluster<'_, B>> {
        Some(LiveCluster {
            cluster: self.snapshot.clusters.get(index)?,
            upstream: self.upstreams.clusters.get(index)?,
        })
    }
}

/// One cluster of a [`Live`] and its pools.
#[derive(Debug)]
pub struct LiveCluster<'a, B> {
    /// The compiled cluster.
    pub cluster: &'a Cluster,
    upstream: &'a ClusterUpstream<B>,
}

// By hand: derived impls would require `B: Clone`.
impl<B> Clone for LiveCluster<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<B> Copy for LiveCluster<'_, B> {}

impl<'a, B> LiveCluster<'a, B> {
    /// Backend `slot` (an index into `cluster.backends`) with its pool.
    pub fn backend(&self, slot: usize) -> Option<(&'a Backend, &'a BackendUpstream<B>)> {
        Some((
            self.cluster.backends.get(slot)?,
            self.upstream.backends.get(slot)?,
        ))
    }
}
