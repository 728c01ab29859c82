//! One cluster's runtime state: its backends and its policy.

use std::time::Duration;

use sluicegate_balance::{AnyPolicy, Policy};
use sluicegate_core::{ClusterName, EndpointSet, PickKey};

use crate::Backend;

/// A cluster as the data plane sees it.
#[derive(Debug)]
pub struct Cluster {
    /// Its name.
    pub name: ClusterName,
    /// Its backends, in config order.
    pub backends: Vec<Backend>,
    /// Its balancing policy.
    pub policy: AnyPolicy,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time from request sent to response head.
    pub response_timeout: Duration,
    /// Idle time of pooled upstream connections.
    pub idle_timeout: Duration,
}

impl Cluster {
    /// Chooses a backend (its index and itself), or `None` when none is eligible (→ 503).
    pub fn pick(&self, key: &PickKey) -> Option<(usize, &Backend)> {
        let i = self.policy.pick(key, &Endpoints(&self.backends))?;
        self.backends.get(i).map(|b| (i, b))
    }
}

/// The `EndpointSet` view over a cluster's backends.
struct Endpoints<'a>(&'a [Backend]);

impl EndpointSet for Endpoints<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn weight(&self, i: usize) -> u32 {
        self.0.get(i).map_or(0, |b| b.weight)
    }

    fn is_eligible(&self, i: usize) -> bool {
        self.0.get(i).is_some_and(|b| !b.down)
    }

    fn in_flight(&self, i: usize) -> u64 {
        self.0.get(i).map_or(0, Backend::in_flight)
    }
}
