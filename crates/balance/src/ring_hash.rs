//! Ketama-style consistent hashing on a ring (Karger et al.; the `ring_hash` of Envoy
//! and nginx's `hash … consistent`).
//!
//! Backend `i` with identity `id` (its address text) and weight `w` gets
//! `points_per_weight × w` points. With `h = stable_hash(id)`, point `j` (counting from
//! 0) sits at `stable_hash(le64(h) ‖ le64(j))`, the hash of the 16 bytes made of `h` and
//! `j`, each as a little-endian `u64`: the identity is hashed once and no point needs an
//! allocation. A key's backend owns the first point at or after the key's hash, wrapping
//! past the end; when two points share a hash, the one of the smaller identity comes
//! first (then the smaller list position, for a duplicated identity). Placement
//! therefore depends only on the identities and weights, the same on every replica and
//! after every restart, and removing a backend moves only the keys it owned.
//!
//! The ring is built once, in the constructor: the points are bucketed by the top `k`
//! bits of their hash (a counting sort; `k` is about `log2` of the number of points, at
//! most [`MAX_INDEX_BITS`]) and each bucket is sorted. The bucket boundaries stay as a
//! lookup index, so a lookup reads the key's bucket and searches only its few points.
//! Ineligible backends, backends whose slow-start ramp turns the request down, and, with
//! a balance factor, backends over their load cap pass the key on clockwise (consistent
//! hashing with bounded loads: a backend of weight `w` takes a request only while it has
//! fewer than `ceil(f/100 × (T + 1) × w / W)` in flight, `T` the total in flight and `W`
//! the eligible weight). Requests without an affinity key go to a weighted random
//! backend.

use std::cmp::Ordering;
use std::fmt;

use sluicegate_core::{EndpointSet, FULL_RAMP, PickKey};

use crate::bounded::{LoadBound, walk};
use crate::members::{index_u32, weights_for};
use crate::{Policy, Sampler, probe_from, stable_hash};

/// Most points on one ring (Envoy's largest `maximum_ring_size`, 8M points of 12 bytes).
/// A larger request is scaled down proportionally, each backend keeping at least one
/// point, so a ring holds at most this many points plus one per backend.
pub const MAX_RING_POINTS: u64 = 8 * 1024 * 1024;

/// Most bits of the lookup index: at most `2^16 + 1` entries (256 KiB).
const MAX_INDEX_BITS: u32 = 16;

/// Consistent hashing on a ring of points built once from backend identities.
pub struct RingHash {
    /// Point hashes, ascending.
    hashes: Box<[u64]>,
    /// `owners[k]` is the backend owning point `k`.
    owners: Box<[u32]>,
    /// `index[b]` is the first point whose hash has its top bits (`hash >> shift`) at
    /// least `b`; `2^(64 − shift) + 1` entries, the last one the number of points.
    /// Positions fit in a `u32`: a ring has at most [`MAX_RING_POINTS`] points plus one
    /// per backend.
    index: Box<[u32]>,
    /// `64 − k` for a `k`-bit index (`k` at least 1).
    shift: u32,
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
        let shift = 64 - index_bits(total);
        let backends: Vec<(u64, u64)> = ids
            .iter()
            .zip(&counts)
            .map(|(id, &count)| (stable_hash(id.as_bytes()), count))
            .collect();
        let mut index = bucket_ends(&backends, shift);
        let (mut hashes, mut owners) = fill_buckets(&backends, shift, total, &mut index);
        sort_buckets(&index, &mut hashes, &mut owners, ids);
        Self {
            hashes: hashes.into_boxed_slice(),
            owners: owners.into_boxed_slice(),
            index: index.into_boxed_slice(),
            shift,
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

    /// Index of the first point at or after `hash`, wrapping to 0 past the last point:
    /// a search within `hash`'s bucket; past the bucket's end is the next bucket's start.
    #[inline]
    fn position(&self, hash: u64) -> usize {
        let b = bucket(hash, self.shift);
        let (from, to) = (self.index[b] as usize, self.index[b + 1] as usize);
        let k = from + self.hashes[from..to].partition_point(|&h| h < hash);
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
        let start = self.position(hash);
        let bound = match self.balance_factor {
            Some(f) => Some(LoadBound::read(f, set)),
            None => {
                // What `walk` answers on its first probe when the home backend is
                // eligible at full ramp (no ramp draw is involved), without the walk.
                let home = self.owners.get(start).map_or(usize::MAX, |&i| i as usize);
                if home < set.len() && set.is_eligible(home) && set.ramp(home) >= FULL_RAMP {
                    return Some(home);
                }
                None
            }
        };
        let (wrapped, from_start) = self.owners.split_at(start);
        walk(from_start.iter().chain(wrapped).copied(), set, bound)
    }
}

impl fmt::Debug for RingHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingHash")
            .field("points", &self.hashes.len())
            .field("backends", &self.sampler.len())
            .field("index_bits", &(64 - self.shift))
            .field("balance_factor", &self.balance_factor)
            .finish()
    }
}

/// Where point `j` of the backend whose identity hashes to `id_hash` sits:
/// `stable_hash(le64(id_hash) ‖ le64(j))`.
#[inline]
fn point_hash(id_hash: u64, j: u64) -> u64 {
    let mut input = [0u8; 16];
    input[..8].copy_from_slice(&id_hash.to_le_bytes());
    input[8..].copy_from_slice(&j.to_le_bytes());
    stable_hash(&input)
}

/// Ring order of two points `(hash, owner)`: by hash; ties (64-bit collisions) go to
/// the smaller identity, then the smaller position (a duplicated identity), never to
/// list position alone.
fn ring_order(ids: &[&str], a: (u64, u32), b: (u64, u32)) -> Ordering {
    a.0.cmp(&b.0)
        .then_with(|| ids[a.1 as usize].cmp(ids[b.1 as usize]))
        .then(a.1.cmp(&b.1))
}

/// Counts the points of each bucket and sums the counts up: `index[b]` is where bucket
/// `b` ends (the last entry, an empty bucket, ends with the ring). `backends` holds each
/// backend's identity hash and point count.
fn bucket_ends(backends: &[(u64, u64)], shift: u32) -> Vec<u32> {
    let mut index = vec![0u32; (1 << (64 - shift)) + 1];
    for (id_hash, count) in backends.iter().copied() {
        for j in 0..count {
            index[bucket(point_hash(id_hash, j), shift)] += 1;
        }
    }
    let mut sum = 0u32;
    for slot in &mut index {
        sum += *slot;
        *slot = sum;
    }
    index
}

/// Hashes the points again (cheaper than keeping them) and fills each bucket from its
/// end: returns the point hashes and owners, and leaves `index[b]` where bucket `b`
/// starts.
fn fill_buckets(
    backends: &[(u64, u64)],
    shift: u32,
    total: usize,
    index: &mut [u32],
) -> (Vec<u64>, Vec<u32>) {
    let mut hashes = vec![0u64; total];
    let mut owners = vec![0u32; total];
    for (i, (id_hash, count)) in backends.iter().copied().enumerate() {
        for j in 0..count {
            let hash = point_hash(id_hash, j);
            let slot = &mut index[bucket(hash, shift)];
            *slot -= 1;
            hashes[*slot as usize] = hash;
            owners[*slot as usize] = index_u32(i);
        }
    }
    (hashes, owners)
}

/// Sorts each bucket of more than one point (see [`sort_bucket`]).
fn sort_buckets(index: &[u32], hashes: &mut [u64], owners: &mut [u32], ids: &[&str]) {
    let mut scratch = Vec::new();
    for bounds in index.windows(2) {
        let range = bounds[0] as usize..bounds[1] as usize;
        if range.len() > 1 {
            sort_bucket(
                &mut hashes[range.clone()],
                &mut owners[range],
                ids,
                &mut scratch,
            );
        }
    }
}

/// Buckets up to this size are sorted in place by insertion; larger ones (rings scaled
/// down to [`MAX_RING_POINTS`] have about 128 points per bucket) through `scratch`.
const INSERTION_SORT_MAX: usize = 16;

/// Sorts one bucket, held as parallel slices, into [`ring_order`].
fn sort_bucket(
    hashes: &mut [u64],
    owners: &mut [u32],
    ids: &[&str],
    scratch: &mut Vec<(u64, u32)>,
) {
    if hashes.len() <= INSERTION_SORT_MAX {
        for i in 1..hashes.len() {
            let point = (hashes[i], owners[i]);
            let mut k = i;
            while k > 0 && ring_order(ids, point, (hashes[k - 1], owners[k - 1])).is_lt() {
                hashes[k] = hashes[k - 1];
                owners[k] = owners[k - 1];
                k -= 1;
            }
            hashes[k] = point.0;
            owners[k] = point.1;
        }
        return;
    }
    scratch.clear();
    scratch.extend(hashes.iter().copied().zip(owners.iter().copied()));
    scratch.sort_unstable_by(|&a, &b| ring_order(ids, a, b));
    for ((h, o), &(hash, owner)) in hashes.iter_mut().zip(owners.iter_mut()).zip(&scratch[..]) {
        *h = hash;
        *o = owner;
    }
}

/// Bits of the lookup index for `points` points: `floor(log2(points))`, so buckets
/// hold one or two points on average, within 1..=[`MAX_INDEX_BITS`].
fn index_bits(points: usize) -> u32 {
    points.checked_ilog2().unwrap_or(0).clamp(1, MAX_INDEX_BITS)
}

/// The bucket of `hash`: its top `64 − shift` bits.
#[inline]
fn bucket(hash: u64, shift: u32) -> usize {
    (hash >> shift) as usize
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
    use crate::testing::{FakeSet, IDS, key};

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
        // Points 0 and 9 of backend 0 are exactly where the scheme says:
        // stable_hash(le64(stable_hash(id)) ‖ le64(j)).
        for j in [0u64, 9] {
            let mut input = stable_hash(b"10.0.0.1:80").to_le_bytes().to_vec();
            input.extend_from_slice(&j.to_le_bytes());
            let k = ring.hashes.binary_search(&stable_hash(&input)).unwrap();
            assert_eq!(ring.owners[k], 0);
        }
    }

    /// The first point at or after `hash` by a search of the whole ring, wrapping.
    fn full_search(ring: &RingHash, hash: u64) -> usize {
        let k = ring.hashes.partition_point(|&h| h < hash);
        if k == ring.hashes.len() { 0 } else { k }
    }

    #[test]
    fn index_lookup_matches_a_full_search() {
        let ids: Vec<String> = (0..300).map(|i| format!("10.2.0.{i}:80")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        // 1 point (a 1-bit index), a few per bucket, and big buckets (a 2^16 index
        // over 1.2M points, some sorted through the scratch path).
        for (n, per_weight) in [(1, 1), (4, 1), (4, 3), (5, 160), (300, 4_000)] {
            let ring = RingHash::new(&ids[..n], &[], per_weight, None);
            assert!(ring.hashes.windows(2).all(|w| w[0] <= w[1]));
            assert_eq!(ring.index.len(), (1 << (64 - ring.shift)) + 1);
            assert_eq!(*ring.index.last().unwrap() as usize, ring.points());
            let mut probes = vec![0, 1, u64::MAX - 1, u64::MAX];
            for &h in ring.hashes.iter().step_by(97) {
                probes.extend([h.wrapping_sub(1), h, h.wrapping_add(1)]);
            }
            // Bucket edges.
            for b in (0..ring.index.len() as u64 - 1).step_by(61) {
                let edge = b << ring.shift;
                probes.extend([edge, edge.wrapping_sub(1)]);
            }
            probes.extend((0..20_000).map(|k| key(k).affinity.unwrap()));
            for h in probes {
                assert_eq!(ring.position(h), full_search(&ring, h), "n={n} {h:#x}");
            }
        }
    }

    #[test]
    fn index_has_about_one_bucket_per_point() {
        assert_eq!(index_bits(0), 1);
        assert_eq!(index_bits(1), 1);
        assert_eq!(index_bits(480), 8);
        assert_eq!(index_bits(160_000), 16);
        assert_eq!(index_bits(8 << 20), MAX_INDEX_BITS);
    }

    #[test]
    fn equal_hashes_are_ordered_by_identity() {
        let ids = ["b", "c", "a", "a"];
        let mut scratch = Vec::new();
        // Insertion sort: one hash for all, identity order wins, then position for the
        // duplicated "a".
        let (mut hashes, mut owners) = (vec![7u64; 4], vec![0u32, 1, 2, 3]);
        sort_bucket(&mut hashes, &mut owners, &ids, &mut scratch);
        assert_eq!(owners, [2, 3, 0, 1]);
        // Both paths agree with sorting by (hash, identity, position).
        for len in [INSERTION_SORT_MAX, INSERTION_SORT_MAX + 1, 100] {
            let points: Vec<(u64, u32)> = (0..len)
                .map(|k| (stable_hash(&[(k % 3) as u8]) % 4, (k * 7 % 4) as u32))
                .collect();
            let mut hashes: Vec<u64> = points.iter().map(|p| p.0).collect();
            let mut owners: Vec<u32> = points.iter().map(|p| p.1).collect();
            sort_bucket(&mut hashes, &mut owners, &ids, &mut scratch);
            let mut want = points.clone();
            want.sort_by_key(|&(h, o)| (h, ids[o as usize], o));
            let got: Vec<(u64, u32)> = hashes.into_iter().zip(owners).collect();
            assert_eq!(got, want, "{len}");
        }
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
