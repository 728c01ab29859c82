//! What a compiled cluster was built from, so that the next compile can hand back the
//! same `Arc<Cluster>` when nothing it was built from changed.
//!
//! A cluster is a function of its spec and of which listeners route to it (its
//! backends' request series are registered per routing listener, by index). When both
//! are equal, rebuilding it would recreate the same policy (rings, Maglev tables), the
//! same series and the same backends, only to carry their state over: a reload that
//! edits one cluster of 1,000 would still rebuild all 1,000. Reused whole, the cluster
//! keeps everything by identity, including state no carry-over lists.

use sluicegate_config::ClusterSpec;

/// A cluster's inputs to `compile`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Origin {
    spec: ClusterSpec,
    /// For each listener index, its name if it routes to the cluster.
    listeners: Vec<Option<String>>,
}

impl Origin {
    /// The inputs `spec` and `listeners`.
    pub(crate) fn new(spec: &ClusterSpec, listeners: &[Option<&str>]) -> Self {
        Self {
            spec: spec.clone(),
            listeners: listeners.iter().map(|l| l.map(str::to_owned)).collect(),
        }
    }

    /// Whether a cluster built from `spec` and `listeners` would be this one.
    pub(crate) fn matches(&self, spec: &ClusterSpec, listeners: &[Option<&str>]) -> bool {
        self.spec == *spec
            && self.listeners.len() == listeners.len()
            && self
                .listeners
                .iter()
                .zip(listeners)
                .all(|(a, b)| a.as_deref() == *b)
    }
}
