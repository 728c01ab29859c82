//! Weighted hash affinity: the key's hash picks a point in a hash space where each
//! backend owns a share proportional to its weight; the point's owner gets the request.
//!
//! The caller hashes the client address (or a header, cookie, ...) with
//! [`stable_hash`](crate::stable_hash) into [`PickKey::affinity`]; without one the pick
//! is a plain weighted random draw. The space is cut by prefix sums of the weights and
//! searched in O(log n). When the owner is ineligible the request goes to the next
//! eligible backend in index order, so only the keys of the missing backend move.
//!
//! Slow start is deterministic per key: a backend at ramp `r` per-mille admits the
//! keys whose admission value (taken from the hash bits the placement barely uses) is
//! below `r`, about `r / 1000` of them, and passes the rest on in index order. The same
//! key always meets the same verdict at the same ramp, and a key once admitted stays
//! admitted as the ramp rises, so affinity holds while a backend warms up.

use sluicegate_core::{EndpointSet, FULL_RAMP, PickKey};

use crate::{Policy, Sampler};

/// Weighted hash placement with in-order fallback and weighted-random keyless picks.
#[derive(Debug, Clone)]
pub struct IpHash {
    /// `ends[i]` is the end (exclusive) of backend `i`'s range: the sum of the weights
    /// up to and including `i`. Zero weights count as 1.
    ends: Box<[u64]>,
    /// For requests without an affinity hash.
    sampler: Sampler,
}

impl IpHash {
    /// A policy over these weights (index = backend index).
    pub fn new(weights: &[u32]) -> Self {
        let ends = weights
            .iter()
            .scan(0u64, |sum, &w| {
                *sum += u64::from(w.max(1));
                Some(*sum)
            })
            .collect();
        Self {
            ends,
            sampler: Sampler::new(weights),
        }
    }

    /// The backend owning `hash` in the weighted hash space, ignoring eligibility.
    /// `None` only when built from no weights.
    pub fn owner(&self, hash: u64) -> Option<usize> {
        let total = *self.ends.last()?;
        // Multiply-shift maps the hash onto 0..total without a division.
        let point = ((u128::from(hash) * u128::from(total)) >> 64) as u64;
        Some(self.ends.partition_point(|&end| end <= point))
    }
}

/// Per-mille admission value of a hash for slow start, from its low 32 bits (the
/// placement point is set by the high bits).
#[inline]
fn admission(hash: u64) -> u32 {
    (((hash & u64::from(u32::MAX)) * u64::from(FULL_RAMP)) >> 32) as u32
}

impl Policy for IpHash {
    #[inline]
    fn pick(&self, key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        let Some(hash) = key.affinity else {
            return self.sampler.draw(set);
        };
        let len = set.len();
        let owner = self.owner(hash)?;
        let value = admission(hash);
        let mut fallback = None;
        for step in 0..len {
            let i = (owner + step) % len;
            if !set.is_eligible(i) {
                continue;
            }
            if value < set.ramp(i) {
                return Some(i);
            }
            // Should every eligible backend be ramping and decline, the first takes it.
            fallback.get_or_insert(i);
        }
        fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stable_hash;
    use crate::testing::FakeSet;

    fn key(name: &str) -> PickKey {
        PickKey {
            client_ip: None,
            affinity: Some(stable_hash(name.as_bytes())),
        }
    }

    /// The key of the `i`th of many distinct clients.
    fn hashed(i: u64) -> PickKey {
        PickKey {
            client_ip: None,
            affinity: Some(stable_hash(&i.to_le_bytes())),
        }
    }

    fn pick_names(p: &IpHash, set: &FakeSet, names: &[&str]) -> Vec<usize> {
        names
            .iter()
            .map(|n| p.pick(&key(n), set).unwrap())
            .collect()
    }

    const NAMES: [&str; 12] = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "192.168.1.7",
        "2001:db8::1",
        "user-1",
        "user-2",
        "user-3",
        "user-42",
        "session=abc",
        "session=def",
        "",
    ];

    #[test]
    fn golden_placement_never_changes() {
        // If this fails, every hashed client moved: say so in the changelog.
        let set = FakeSet::weighted(&[1, 2, 3, 4]);
        let p = IpHash::new(&set.weights);
        assert_eq!(
            pick_names(&p, &set, &NAMES),
            vec![0, 3, 3, 3, 1, 3, 2, 2, 2, 3, 3, 3]
        );
        // By hand: stable_hash("user-42") / 2^64 = 0.477..., × 10 = 4, in [3, 6): 2.
        assert_eq!(p.owner(0x7a40_9bcd_a6c8_2cad), Some(2));
        assert_eq!(p.owner(0), Some(0));
        assert_eq!(p.owner(u64::MAX), Some(3));
        assert_eq!(IpHash::new(&[]).owner(7), None);
    }

    #[test]
    fn same_key_same_backend() {
        let set = FakeSet::weighted(&[3, 1, 4, 1, 5]);
        let p = IpHash::new(&set.weights);
        let first = pick_names(&p, &set, &NAMES);
        for _ in 0..20 {
            assert_eq!(pick_names(&p, &set, &NAMES), first);
        }
        // Another instance over the same weights agrees.
        assert_eq!(pick_names(&IpHash::new(&set.weights), &set, &NAMES), first);
    }

    #[test]
    fn hash_space_follows_the_weights() {
        let p = IpHash::new(&[1, 2, 0, 5]);
        let mut counts = [0usize; 4];
        for i in 0u64..90_000 {
            counts[p.owner(stable_hash(&i.to_le_bytes())).unwrap()] += 1;
        }
        // Weights 1, 2, 1 (zero counts as 1), 5 over 90,000 keys: 10k, 20k, 10k, 50k.
        for (c, want) in counts.iter().zip([10_000, 20_000, 10_000, 50_000]) {
            assert!(c.abs_diff(want) < 1_000, "{counts:?}");
        }
    }

    #[test]
    fn ineligible_owner_moves_only_its_keys_to_the_next_backend() {
        let mut set = FakeSet::weighted(&[1, 1, 1, 1]);
        let p = IpHash::new(&set.weights);
        let before: Vec<usize> = (0..1_000)
            .map(|i| p.pick(&hashed(i), &set).unwrap())
            .collect();
        set.eligible[1] = false;
        for (i, &was) in (0..1_000).zip(&before) {
            let now = p.pick(&hashed(i), &set).unwrap();
            assert_eq!(now, if was == 1 { 2 } else { was });
        }
        set.eligible = vec![false; 4];
        assert_eq!(p.pick(&key("x"), &set), None);
        assert_eq!(p.pick(&PickKey::default(), &set), None);
    }

    #[test]
    fn without_affinity_draws_by_weight_among_eligible() {
        let mut set = FakeSet::weighted(&[1, 1, 1]);
        set.eligible[0] = false;
        let p = IpHash::new(&set.weights);
        let mut counts = [0usize; 3];
        for _ in 0..3_000 {
            counts[p.pick(&PickKey::default(), &set).unwrap()] += 1;
        }
        assert_eq!(counts[0], 0);
        assert!(counts[1] > 1_200 && counts[2] > 1_200, "{counts:?}");
    }

    #[test]
    fn ramping_owner_admits_a_stable_growing_fraction_of_its_keys() {
        let mut set = FakeSet::weighted(&[1, 1]);
        let p = IpHash::new(&set.weights);
        let keys: Vec<PickKey> = (0..20_000).map(hashed).collect();
        let owned: Vec<bool> = keys.iter().map(|k| p.pick(k, &set) == Some(0)).collect();
        let mut admitted_before = vec![false; keys.len()];
        for ramp in [100, 500, 900] {
            set.ramp = vec![ramp, FULL_RAMP];
            let admitted: Vec<bool> = keys.iter().map(|k| p.pick(k, &set) == Some(0)).collect();
            // Same verdict on a second pass, and never a key backend 0 did not own.
            for (k, &a) in keys.iter().zip(&admitted) {
                assert_eq!(p.pick(k, &set) == Some(0), a);
            }
            let n_owned = owned.iter().filter(|&&o| o).count();
            let n_admitted = admitted.iter().filter(|&&a| a).count();
            assert!(admitted.iter().zip(&owned).all(|(&a, &o)| !a || o));
            let fraction = n_admitted as f64 / n_owned as f64;
            assert!(
                (fraction - f64::from(ramp) / 1000.0).abs() < 0.03,
                "{ramp}: {fraction}"
            );
            // Monotonic: a key admitted at a lower ramp stays admitted.
            assert!(
                admitted_before
                    .iter()
                    .zip(&admitted)
                    .all(|(&b, &a)| !b || a)
            );
            admitted_before = admitted;
        }
    }

    #[test]
    fn all_ramping_and_declining_still_picks() {
        let mut set = FakeSet::weighted(&[1, 1]);
        set.ramp = vec![0, 0];
        let p = IpHash::new(&set.weights);
        assert!(p.pick(&key("user-1"), &set).is_some());
    }
}
