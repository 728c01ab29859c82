//! Ketama-style consistent hashing on a ring (Karger et al.; the `ring_hash` of Envoy
//! and nginx's `hash … consistent`).
//!
//! Backend `i` with identity `id` (its address text) and weight `w` gets
//! `points_per_weight × w` points; point `j` sits at `stable_hash("{id}-{j}")`. A key's
//! backend owns the first point at or after the key's hash, wrapping past the end.
//! Placement therefore depends only on the identities and weights, the same on every
//! replica and after every restart, and removing a backend moves only the keys it owned.
//!
//! The ring is hashed and sorted once, in the constructor; a lookup is a binary search.
//! Ineligible backends, backends whose slow-start ramp turns the request down, and, with
//! a balance factor, backends over their load cap pass the key on clockwise (consistent
//! hashing with bounded loads: a backend of weight `w` takes a request only while it has
//! fewer than `ceil(f/100 × (T + 1) × w / W)` in flight, `T` the total in flight and `W`
//! the eligible weight). Requests without an affinity key go to a weighted random
//! backend.

use std::fmt::{self, Write as _};

use sluicegate_core::{EndpointSet, PickKey};

use crate::bounded::{LoadBound, walk};
use crate::members::{index_u32, weights_for};
use crate::{Policy, Sampler, probe_from, stable_hash};

/// Most points on one ring (Envoy's largest `maximum_ring_size`, 8M points of 12 bytes).
/// A larger request is scaled down proportionally, each backend keeping at least one
/// point, so a ring holds at most this many points plus one per backend.
pub const MAX_RING_POINTS: u64 = 8 * 1024 * 1024;

/// Consistent hashing on a ring of points built once from backend identities.
pub struct RingHash {
    /// Point hashes, ascending.
    hashes: Box<[u64]>,
    /// `owners[k]` is the backend owning point `k`.
    owners: Box<[u32]>,
    /// Requests without an affinity key.
    sampler: Sampler,
    balance_factor: Option<u32>,
}

impl RingHash {
    /// Builds the ring. `ids[i]` is backend `i`'s stable identity (its address text, such
    /// as `"127.0.0.1:9001"`) and `weights[i]` its weight; a missing or zero weight counts
    /// as 1, and a zero `points_per_weight` as 1. The ring is capped at
    /// [`MAX_RING_POINTS`]. `balance_factor` (percent, at least 100; lower counts as 100)
    /// turns on bounded loads.
    pub fn new(
        ids: &[&str],
        weights: &[u32],
        points_per_weight: u32,
        balance_factor: Option<u32>,
    ) -> Self {
        let weights = weights_for(ids.len(), weights);
        let counts = point_counts(&weights, points_per_weight);
        let total = usize::try_from(counts.iter().sum::<u64>()).unwrap_or(0);
        let mut points: Vec<(u64, u32)> = Vec::with_capacity(total);
        let mut text = String::new();
        for (i, (id, &count)) in ids.iter().zip(&counts).enumerate() {
            for j in 0..count {
                text.clear();
                // Writing into a String cannot fail.
                let _ = write!(text, "{id}-{j}");
                points.push((stable_hash(text.as_bytes()), index_u32(i)));
            }
        }
        // Ties (64-bit collisions) go to the smaller identity, never to list position.
        points.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| ids[a.1 as usize].cmp(ids[b.1 as usize]))
                .then(a.1.cmp(&b.1))
        });
        Self {
            hashes: points.iter().map(|p| p.0).collect(),
            owners: points.iter().map(|p| p.1).collect(),
            sampler: Sampler::new(&weights),
            balance_factor,
        }
    }

    /// Number of points on the ring.
    pub fn points(&self) -> usize {
        self.hashes.len()
    }

    /// The backend owning `hash` on the ring, ignoring eligibility, ramp and load: where
    /// the key goes when every backend can take it. `None` only for an empty ring.
    pub fn owner_at(&self, hash: u64) -> Option<usize> {
        self.owners.get(self.position(hash)).map(|&i| i as usize)
    }

    /// Index of the first point at or after `hash`, wrapping to 0 past the last point.
    fn position(&self, hash: u64) -> usize {
        let k = self.hashes.partition_point(|&h| h < hash);
        if k == self.hashes.len() { 0 } else { k }
    }
}

impl Policy for RingHash {
    /// The owner of the key's point or the next acceptable backend clockwise. Without an
    /// affinity key: weighted random (the balance factor does not apply).
    #[inline]
    fn pick(&self, key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        let Some(hash) = key.affinity else {
            return self.sampler.draw(set).or_else(|| probe_from(0, set));
        };
        let bound = self.balance_factor.map(|f| LoadBound::read(f, set));
        let start = self.position(hash);
        let (wrapped, from_start) = self.owners.split_at(start);
        walk(from_start.iter().chain(wrapped).copied(), set, bound)
    }
}

impl fmt::Debug for RingHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingHash")
            .field("points", &self.hashes.len())
            .field("backends", &self.sampler.len())
            .field("balance_factor", &self.balance_factor)
            .finish()
    }
}

/// Points per backend: `points_per_weight × weight`, scaled down proportionally (at
/// least 1 each) when the total would exceed [`MAX_RING_POINTS`].
fn point_counts(weights: &[u32], points_per_weight: u32) -> Vec<u64> {
    let per_weight = u128::from(points_per_weight.max(1));
    let wanted: Vec<u128> = weights
        .iter()
        .map(|&w| u128::from(w) * per_weight)
        .collect();
    let total: u128 = wanted.iter().sum();
    let cap = u128::from(MAX_RING_POINTS);
    wanted
        .iter()
        .map(|&p| {
            let scaled = if total <= cap { p } else { p * cap / total };
            u64::try_from(scaled).unwrap_or(MAX_RING_POINTS).max(1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSet;

    const IDS: [&str; 4] = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"];

    fn key(k: u64) -> PickKey {
        PickKey {
            client_ip: None,
            affinity: Some(stable_hash(format!("key-{k}").as_bytes())),
        }
    }

    fn owned(ring: &RingHash, n: usize) -> Vec<usize> {
        let mut counts = vec![0; n];
        for &o in ring.owners.iter() {
            counts[o as usize] += 1;
        }
        counts
    }

    #[test]
    fn ring_is_sorted_with_points_per_weight() {
        let ring = RingHash::new(&IDS, &[1, 2, 3, 4], 10, None);
        assert_eq!(ring.points(), 100);
        assert!(ring.hashes.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(owned(&ring, 4), vec![10, 20, 30, 40]);
        // Point 0 of backend 0 is exactly where the scheme says.
        let h = stable_hash(b"10.0.0.1:80-0");
        let k = ring.hashes.binary_search(&h).unwrap();
        assert_eq!(ring.owners[k], 0);
    }

    #[test]
    fn lookup_takes_first_point_at_or_after_and_wraps() {
        let ring = RingHash::new(&IDS, &[1; 4], 4, None);
        let first = ring.hashes[0];
        let last = *ring.hashes.last().unwrap();
        assert_eq!(ring.owner_at(first), Some(ring.owners[0] as usize));
        assert_eq!(ring.owner_at(first + 1), Some(ring.owners[1] as usize));
        assert_eq!(ring.owner_at(last), ring.owners.last().map(|&o| o as usize));
        assert_eq!(ring.owner_at(last + 1), Some(ring.owners[0] as usize));
        assert_eq!(ring.owner_at(u64::MAX), Some(ring.owners[0] as usize));
    }

    #[test]
    fn placement_depends_on_identity_not_position() {
        let a = RingHash::new(&IDS, &[1, 2, 3, 4], 50, None);
        let reversed: Vec<&str> = IDS.iter().rev().copied().collect();
        let b = RingHash::new(&reversed, &[4, 3, 2, 1], 50, None);
        for k in 0..2_000 {
            let h = key(k).affinity.unwrap();
            assert_eq!(a.owner_at(h).unwrap(), 3 - b.owner_at(h).unwrap());
        }
    }

    #[test]
    fn ineligible_and_ramping_pass_clockwise() {
        let mut set = FakeSet::weighted(&[1; 4]);
        let ring = RingHash::new(&IDS, &set.weights, 40, None);
        for k in 0..500 {
            let home = ring.owner_at(key(k).affinity.unwrap()).unwrap();
            assert_eq!(ring.pick(&key(k), &set), Some(home));
        }
        set.eligible[2] = false;
        set.ramp[1] = 0; // A ramp of 0 turns every request down.
        for k in 0..500 {
            let got = ring.pick(&key(k), &set).unwrap();
            assert!(got == 0 || got == 3, "{got}");
        }
        set.eligible = vec![false; 4];
        assert_eq!(ring.pick(&key(1), &set), None);
        assert_eq!(ring.pick(&PickKey::default(), &set), None);
    }

    #[test]
    fn no_key_is_weighted_random_over_eligible() {
        let mut set = FakeSet::weighted(&[1, 1, 8, 0]);
        set.eligible[3] = false;
        let ring = RingHash::new(&IDS, &set.weights, 10, None);
        let mut counts = [0usize; 4];
        for _ in 0..10_000 {
            counts[ring.pick(&PickKey::default(), &set).unwrap()] += 1;
        }
        assert_eq!(counts[3], 0);
        assert!(counts[2] > 7_000, "{counts:?}");
    }

    #[test]
    fn bounded_loads_divert_from_an_overloaded_home() {
        let mut set = FakeSet::weighted(&[1; 4]);
        let ring = RingHash::new(&IDS, &set.weights, 40, Some(125));
        let home = ring.owner_at(key(7).affinity.unwrap()).unwrap();
        set.in_flight = vec![2; 4];
        set.in_flight[home] = 6; // total 12: cap = ceil(1.25 × 13 / 4) = 5, full
        let got = ring.pick(&key(7), &set).unwrap();
        assert_ne!(got, home);
        set.in_flight[home] = 4; // total 10: cap = ceil(1.25 × 11 / 4) = 4, full
        assert_ne!(ring.pick(&key(7), &set), Some(home));
        set.in_flight[home] = 3; // total 9: cap = ceil(1.25 × 10 / 4) = 4, room for one
        assert_eq!(ring.pick(&key(7), &set), Some(home));
    }

    #[test]
    fn empty_or_mismatched_inputs_do_not_panic() {
        let ring = RingHash::new(&[], &[], 160, None);
        assert_eq!(ring.points(), 0);
        assert_eq!(ring.owner_at(5), None);
        assert_eq!(ring.pick(&key(1), &FakeSet::default()), None);
        // A set larger than the ring still gets an eligible answer.
        assert_eq!(ring.pick(&key(1), &FakeSet::weighted(&[1])), Some(0));
        assert_eq!(
            ring.pick(&PickKey::default(), &FakeSet::weighted(&[1])),
            Some(0)
        );
        let ring = RingHash::new(&IDS, &[], 0, Some(0));
        assert_eq!(ring.points(), 4);
        assert!(ring.pick(&key(1), &FakeSet::weighted(&[1; 4])).is_some());
    }

    #[test]
    fn oversized_rings_are_scaled_keeping_every_backend() {
        let mut weights = vec![10_000u32; 999];
        weights.push(1);
        let counts = point_counts(&weights, 1_000);
        assert!(counts.iter().sum::<u64>() <= MAX_RING_POINTS + 1_000);
        assert!(counts.iter().all(|&c| c >= 1));
        assert_eq!(counts[999], 1);
        // Proportions survive the scaling.
        assert!(counts[0] > 8_000);
        assert_eq!(point_counts(&[1, 2], 160), vec![160, 320]);
    }

    #[test]
    fn thousand_backends_at_160_points_per_weight() {
        let ids: Vec<String> = (0..1_000)
            .map(|i| format!("10.1.{}.{}:80", i / 256, i % 256))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let ring = RingHash::new(&ids, &vec![1; 1_000], 160, None);
        assert_eq!(ring.points(), 160_000);
        assert!(owned(&ring, 1_000).iter().all(|&c| c == 160));
        let set = FakeSet::weighted(&vec![1; 1_000]);
        assert!(ring.pick(&key(3), &set).is_some());
    }
}
