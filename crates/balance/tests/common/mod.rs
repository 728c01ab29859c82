//! What the balance integration tests share: a fake endpoint set and one way to build
//! every policy by name.

#![allow(dead_code)] // Each test crate uses a part.

use sluicegate_balance::{AnyPolicy, IpHash, LeastConnections, PowerOfTwo, Random, RoundRobin};
use sluicegate_core::{EndpointSet, FULL_RAMP};

/// Every policy [`build`] knows, by the name the config gives it.
pub const POLICIES: &[&str] = &[
    "random",
    "round_robin",
    "p2c",
    "least_connections",
    "ip_hash",
];

/// The policy called `name` over `weights`.
pub fn build(name: &str, weights: &[u32]) -> AnyPolicy {
    match name {
        "random" => AnyPolicy::Random(Random::new(weights)),
        "round_robin" => AnyPolicy::RoundRobin(RoundRobin::new(weights)),
        "p2c" => AnyPolicy::PowerOfTwo(PowerOfTwo::new(weights)),
        "least_connections" => AnyPolicy::LeastConnections(LeastConnections::new(weights)),
        "ip_hash" => AnyPolicy::IpHash(IpHash::new(weights)),
        other => panic!("no policy called {other:?}"),
    }
}

/// Backends as plain vectors.
#[derive(Clone, Debug, Default)]
pub struct Pool {
    pub weights: Vec<u32>,
    pub eligible: Vec<bool>,
    pub in_flight: Vec<u64>,
    pub ramp: Vec<u32>,
}

impl Pool {
    /// Every backend eligible, idle and fully ramped.
    pub fn weighted(weights: &[u32]) -> Self {
        Self {
            weights: weights.to_vec(),
            eligible: vec![true; weights.len()],
            in_flight: vec![0; weights.len()],
            ramp: vec![FULL_RAMP; weights.len()],
        }
    }
}

impl EndpointSet for Pool {
    fn len(&self) -> usize {
        self.weights.len()
    }
    fn weight(&self, i: usize) -> u32 {
        self.weights[i]
    }
    fn is_eligible(&self, i: usize) -> bool {
        self.eligible[i]
    }
    fn in_flight(&self, i: usize) -> u64 {
        self.in_flight[i]
    }
    fn ramp(&self, i: usize) -> u32 {
        self.ramp[i]
    }
}
