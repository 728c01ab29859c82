//! Enum dispatch over every policy.

use sluicegate_core::{EndpointSet, PickKey};

use crate::{IpHash, LeastConnections, Maglev, Policy, PowerOfTwo, Random, RingHash, RoundRobin};

/// One of the policies, chosen by the config at run time.
#[derive(Debug)]
pub enum AnyPolicy {
    /// Weighted random.
    Random(Random),
    /// Smooth weighted round-robin.
    RoundRobin(RoundRobin),
    /// Power of two choices, by in-flight requests per weight.
    PowerOfTwo(PowerOfTwo),
    /// Weighted least connections, ties broken by smooth weighted round-robin.
    LeastConnections(LeastConnections),
    /// Weighted hash of the key's affinity, next in order when unavailable.
    IpHash(IpHash),
    /// Consistent hashing on a ring (Ketama), optionally with bounded loads.
    RingHash(RingHash),
    /// Maglev consistent hashing, optionally with bounded loads.
    Maglev(Maglev),
}

impl AnyPolicy {
    /// Its name as written in the config (`policy:`).
    pub fn name(&self) -> &'static str {
        match self {
            AnyPolicy::Random(_) => "random",
            AnyPolicy::RoundRobin(_) => "round_robin",
            AnyPolicy::PowerOfTwo(_) => "p2c",
            AnyPolicy::LeastConnections(_) => "least_connections",
            AnyPolicy::IpHash(_) => "ip_hash",
            AnyPolicy::RingHash(_) => "ring_hash",
            AnyPolicy::Maglev(_) => "maglev",
        }
    }
}

impl Policy for AnyPolicy {
    #[inline]
    fn pick(&self, key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        match self {
            AnyPolicy::Random(p) => p.pick(key, set),
            AnyPolicy::RoundRobin(p) => p.pick(key, set),
            AnyPolicy::PowerOfTwo(p) => p.pick(key, set),
            AnyPolicy::LeastConnections(p) => p.pick(key, set),
            AnyPolicy::IpHash(p) => p.pick(key, set),
            AnyPolicy::RingHash(p) => p.pick(key, set),
            AnyPolicy::Maglev(p) => p.pick(key, set),
        }
    }
}
