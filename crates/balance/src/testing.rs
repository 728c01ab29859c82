//! A fake endpoint set for policy unit tests.

use sluicegate_core::{EndpointSet, FULL_RAMP, PickKey};

use crate::stable_hash;

/// Four backend identities for the hashing policies' tests.
pub const IDS: [&str; 4] = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"];

/// Request key `k` as a hashing policy sees it: `stable_hash("key-{k}")`.
pub fn key(k: u64) -> PickKey {
    PickKey {
        client_ip: None,
        affinity: Some(stable_hash(format!("key-{k}").as_bytes())),
    }
}

/// Backends as plain vectors.
#[derive(Clone, Debug, Default)]
pub struct FakeSet {
    pub weights: Vec<u32>,
    pub eligible: Vec<bool>,
    pub in_flight: Vec<u64>,
    /// Slow-start ramp per backend; a missing entry means [`FULL_RAMP`].
    pub ramp: Vec<u32>,
}

impl FakeSet {
    pub fn weighted(weights: &[u32]) -> Self {
        Self {
            weights: weights.to_vec(),
            eligible: vec![true; weights.len()],
            in_flight: vec![0; weights.len()],
            ramp: vec![FULL_RAMP; weights.len()],
        }
    }
}

impl EndpointSet for FakeSet {
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
        self.ramp.get(i).copied().unwrap_or(FULL_RAMP)
    }
}
