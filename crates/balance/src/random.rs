//! Weighted random.

use sluicegate_core::{EndpointSet, PickKey};

use crate::{Policy, Sampler};

/// Each request goes to a backend drawn with probability proportional to its weight
/// (times its slow-start ramp).
#[derive(Debug, Clone)]
pub struct Random {
    sampler: Sampler,
}

impl Random {
    /// A policy over these weights (index = backend index).
    pub fn new(weights: &[u32]) -> Self {
        Self {
            sampler: Sampler::new(weights),
        }
    }
}

impl Policy for Random {
    #[inline]
    fn pick(&self, _key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        self.sampler.draw(set)
    }
}
