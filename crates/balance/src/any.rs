//! Enum dispatch over every policy.

use sluicegate_core::{EndpointSet, PickKey};

use crate::{Policy, Random, RoundRobin};

/// One of the policies, chosen by the config at run time.
#[derive(Debug)]
pub enum AnyPolicy {
    /// Weighted random.
    Random(Random),
    /// Smooth weighted round-robin.
    RoundRobin(RoundRobin),
}

impl Policy for AnyPolicy {
    #[inline]
    fn pick(&self, key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        match self {
            AnyPolicy::Random(p) => p.pick(key, set),
            AnyPolicy::RoundRobin(p) => p.pick(key, set),
        }
    }
}
