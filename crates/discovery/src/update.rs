//! What a source hands to the reload side: one answer for one cluster, under the
//! spec it was looked up with (an answer for a spec that a reload replaced is
//! dropped there, not applied).

use std::time::SystemTime;

use sluicegate_config::{BackendSpec, DiscoverySpec};
use sluicegate_core::ClusterName;

/// One answer of a cluster's discovery source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The cluster.
    pub cluster: ClusterName,
    /// The spec the lookup ran under.
    pub spec: DiscoverySpec,
    /// What it found.
    pub answer: Answer,
    /// When it answered.
    pub at: SystemTime,
}

/// What a lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The backends named now, in the source's order (possibly none: the name has no
    /// records, or does not exist).
    Found(Vec<BackendSpec>),
    /// No answer: why (a timeout, SERVFAIL, a refused query).
    Failed(String),
}
