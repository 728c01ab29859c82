//! What the balance integration tests share: a fake endpoint set and one way to build
//! every policy by name.

#![allow(dead_code)] // Each test crate uses a part.

pub mod hashing;

use sluicegate_balance::Policy;
use sluicegate_balance::{
    AnyPolicy, IpHash, LeastConnections, Maglev, PowerOfTwo, Random, RingHash, RoundRobin,
};
use sluicegate_core::{EndpointSet, FULL_RAMP, PickKey};

/// Every policy [`build`] knows, by the name the config gives it.
pub const POLICIES: &[&str] = &[
    "random",
    "round_robin",
    "p2c",
    "least_connections",
    "ip_hash",
    "ring_hash",
    "ring_hash_bounded",
    "maglev",
    "maglev_bounded",
];

/// The policy called `name` over `weights`.
pub fn build(name: &str, weights: &[u32]) -> AnyPolicy {
    match name {
        "random" => AnyPolicy::Random(Random::new(weights)),
        "round_robin" => AnyPolicy::RoundRobin(RoundRobin::new(weights)),
        "p2c" => AnyPolicy::PowerOfTwo(PowerOfTwo::new(weights)),
        "least_connections" => AnyPolicy::LeastConnections(LeastConnections::new(weights)),
        "ip_hash" => AnyPolicy::IpHash(IpHash::new(weights)),
        // Few ring points (weights capped at 10 for the ring size only) and a small
        // table keep property tests fast in debug builds; eligibility does not depend on it.
        "ring_hash" => AnyPolicy::RingHash(RingHash::new(&ids(weights), &small(weights), 4, None)),
        "ring_hash_bounded" => {
            AnyPolicy::RingHash(RingHash::new(&ids(weights), &small(weights), 4, Some(125)))
        }
        "maglev" => AnyPolicy::Maglev(Maglev::new(&ids(weights), weights, 1009, None)),
        "maglev_bounded" => AnyPolicy::Maglev(Maglev::new(&ids(weights), weights, 1009, Some(125))),
        other => panic!("no policy called {other:?}"),
    }
}

/// Stable identities `10.0.0.{i}:80`-like for `weights.len()` backends.
fn ids(weights: &[u32]) -> Vec<&'static str> {
    (0..weights.len())
        .map(|i| &*Box::leak(format!("10.0.{}.{}:80", i / 250, i % 250).into_boxed_str()))
        .collect()
}

/// `weights` capped at 10, to keep test rings small.
fn small(weights: &[u32]) -> Vec<u32> {
    weights.iter().map(|&w| w.min(10)).collect()
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

    /// `n` backends of weight 1.
    pub fn equal(n: usize) -> Self {
        Self::weighted(&vec![1; n])
    }

    /// Marks backend `i` eligible or not.
    pub fn set_eligible(&mut self, i: usize, eligible: bool) {
        self.eligible[i] = eligible;
    }

    /// A request starts on backend `i`.
    pub fn start(&mut self, i: usize) {
        self.in_flight[i] += 1;
    }

    /// A request on backend `i` completes.
    pub fn finish(&mut self, i: usize) {
        self.in_flight[i] -= 1;
    }

    /// Where each of `keys` goes.
    pub fn place(&self, policy: &AnyPolicy, keys: &[PickKey]) -> Vec<usize> {
        keys.iter()
            .map(|k| policy.pick(k, self).expect("an eligible backend"))
            .collect()
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
