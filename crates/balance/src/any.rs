//! Enum dispatch over every policy.

use sluicegate_core::{EndpointSet, PickKey};

use crate::{Maglev, Policy, Random, RingHash, RoundRobin};

/// One of the policies, chosen by the config at run time.
#[derive(Debug)]
pub enum AnyPolicy {
    /// Weighted random.
    Random(Random),
    /// Smooth weighted round-robin.
    RoundRobin(RoundRobin),
    /// Consistent hashing on a ring (Ketama), optionally with bounded loads.
    RingHash(RingHash),
    /// Maglev consistent hashing, optionally with bounded loads.
    Maglev(Maglev),
}

impl Policy for AnyPolicy {
    #[inline]
    fn pick(&self, key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        match self {
            AnyPolicy::Random(p) => p.pick(key, set),
            AnyPolicy::RoundRobin(p) => p.pick(key, set),
            AnyPolicy::RingHash(p) => p.pick(key, set),
            AnyPolicy::Maglev(p) => p.pick(key, set),
        }
    }
}
