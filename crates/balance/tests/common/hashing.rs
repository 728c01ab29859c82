//! What the consistent-hashing integration tests add to [`super::Pool`]: the two
//! policies by kind, backend identities and request keys.

use sluicegate_balance::{AnyPolicy, DEFAULT_TABLE_SIZE, Maglev, RingHash, stable_hash};
use sluicegate_core::PickKey;

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
