//! A fake backend pool for the hashing-policy integration tests: backends identified by
//! address text, with weights, eligibility and in-flight counts kept in plain vectors
//! and running totals (as the runtime keeps them).

#![allow(dead_code)]

use sluicegate_balance::{AnyPolicy, DEFAULT_TABLE_SIZE, Maglev, Policy, RingHash, stable_hash};
use sluicegate_core::{EndpointSet, PickKey};

/// The two consistent-hashing policies under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ring,
    Maglev,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Ring, Kind::Maglev];

    /// The policy over `ids` and `weights`: 160 points per weight for the ring, the
    /// default 65537 entries for Maglev.
    pub fn build(self, ids: &[String], weights: &[u32], factor: Option<u32>) -> AnyPolicy {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        match self {
            Kind::Ring => AnyPolicy::RingHash(RingHash::new(&ids, weights, 160, factor)),
            Kind::Maglev => {
                AnyPolicy::Maglev(Maglev::new(&ids, weights, DEFAULT_TABLE_SIZE, factor))
            }
        }
    }
}

/// `"10.0.0.{i}:80"` for each `i` in `range`.
pub fn ids(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("10.0.0.{i}:80")).collect()
}

/// The affinity key of request key `k`: `stable_hash("key-{k}")`.
pub fn key(k: u64) -> PickKey {
    PickKey {
        client_ip: None,
        affinity: Some(stable_hash(format!("key-{k}").as_bytes())),
    }
}

/// Backends as vectors, with running totals.
#[derive(Clone, Debug)]
pub struct Pool {
    pub weights: Vec<u32>,
    eligible: Vec<bool>,
    in_flight: Vec<u64>,
    total_in_flight: u64,
    eligible_weight: u64,
}

impl Pool {
    /// Every backend eligible and idle.
    pub fn new(weights: &[u32]) -> Self {
        Self {
            weights: weights.to_vec(),
            eligible: vec![true; weights.len()],
            in_flight: vec![0; weights.len()],
            total_in_flight: 0,
            eligible_weight: weights.iter().map(|&w| u64::from(w)).sum(),
        }
    }

    /// `n` backends of weight 1.
    pub fn equal(n: usize) -> Self {
        Self::new(&vec![1; n])
    }

    pub fn set_eligible(&mut self, i: usize, eligible: bool) {
        if self.eligible[i] != eligible {
            self.eligible[i] = eligible;
            let w = u64::from(self.weights[i]);
            if eligible {
                self.eligible_weight += w;
            } else {
                self.eligible_weight -= w;
            }
        }
    }

    /// A request starts on backend `i`.
    pub fn start(&mut self, i: usize) {
        self.in_flight[i] += 1;
        self.total_in_flight += 1;
    }

    /// A request on backend `i` completes.
    pub fn finish(&mut self, i: usize) {
        self.in_flight[i] -= 1;
        self.total_in_flight -= 1;
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
    fn total_in_flight(&self) -> u64 {
        self.total_in_flight
    }
    fn eligible_weight(&self) -> u64 {
        self.eligible_weight
    }
}
