//! A fake endpoint set for policy unit tests.

use sluicegate_core::EndpointSet;

/// Backends as plain vectors.
#[derive(Clone, Debug, Default)]
pub struct FakeSet {
    pub weights: Vec<u32>,
    pub eligible: Vec<bool>,
    pub in_flight: Vec<u64>,
    pub ramp: Vec<u32>,
}

impl FakeSet {
    pub fn weighted(weights: &[u32]) -> Self {
        Self {
            weights: weights.to_vec(),
            eligible: vec![true; weights.len()],
            in_flight: vec![0; weights.len()],
            ramp: vec![1000; weights.len()],
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
        self.ramp.get(i).copied().unwrap_or(1000)
    }
}
