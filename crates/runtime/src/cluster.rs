//! One cluster's runtime state: its backends and its policy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sluicegate_balance::{AnyPolicy, Policy};
use sluicegate_core::{ClusterName, EndpointSet, PickKey};

use crate::{Backend, HashKey};

/// A cluster as the data plane sees it.
#[derive(Debug)]
pub struct Cluster {
    /// Its name.
    pub name: ClusterName,
    /// Its backends, in config order.
    pub backends: Vec<Backend>,
    /// Its balancing policy.
    pub policy: AnyPolicy,
    /// What its policy hashes, for the hashing policies.
    pub hash_key: Option<HashKey>,
    /// Slow-start window of backends that join.
    pub slow_start: Option<Duration>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time from request sent to response head.
    pub response_timeout: Duration,
    /// Idle time of pooled upstream connections.
    pub idle_timeout: Duration,
    /// Requests in flight over all backends (carried across reloads by cluster name).
    pub(crate) in_flight: Arc<AtomicU64>,
    /// Sum of the weights of the backends that may be picked.
    pub(crate) eligible_weight: AtomicU64,
}

impl Cluster {
    /// Chooses a backend (its index and itself), or `None` when none is eligible (→ 503).
    pub fn pick(&self, key: &PickKey) -> Option<(usize, &Backend)> {
        let i = self.policy.pick(key, &Endpoints(self))?;
        self.backends.get(i).map(|b| (i, b))
    }

    /// Requests in flight over all backends.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The backend at `address`, with its index.
    pub fn backend(&self, address: SocketAddr) -> Option<(usize, &Backend)> {
        self.backends
            .iter()
            .enumerate()
            .find(|(_, b)| b.address() == address)
    }

    /// Drains the backend at `address` (it gets no new requests; those in flight
    /// finish) or enables it again. The setting is kept across reloads while the
    /// backend stays in the config. Returns the previous setting, or `None` when the
    /// cluster has no such backend.
    pub fn set_drained(&self, address: SocketAddr, drained: bool) -> Option<bool> {
        let (_, backend) = self.backend(address)?;
        let before = backend.set_drained(drained);
        self.eligible_weight
            .store(eligible_weight(&self.backends), Ordering::Relaxed);
        Some(before)
    }
}

/// Sum of the weights of `backends` that may be picked.
pub(crate) fn eligible_weight(backends: &[Backend]) -> u64 {
    backends
        .iter()
        .filter(|b| b.is_eligible())
        .map(|b| u64::from(b.weight))
        .sum()
}

/// The `EndpointSet` view over a cluster's backends.
struct Endpoints<'a>(&'a Cluster);

impl EndpointSet for Endpoints<'_> {
    fn len(&self) -> usize {
        self.0.backends.len()
    }

    fn weight(&self, i: usize) -> u32 {
        self.0.backends.get(i).map_or(0, |b| b.weight)
    }

    fn is_eligible(&self, i: usize) -> bool {
        self.0.backends.get(i).is_some_and(Backend::is_eligible)
    }

    fn in_flight(&self, i: usize) -> u64 {
        self.0.backends.get(i).map_or(0, Backend::in_flight)
    }

    fn ramp(&self, i: usize) -> u32 {
        self.0.backends.get(i).map_or(0, Backend::ramp)
    }

    fn total_in_flight(&self) -> u64 {
        self.0.in_flight()
    }

    fn eligible_weight(&self) -> u64 {
        self.0.eligible_weight.load(Ordering::Relaxed)
    }
}
