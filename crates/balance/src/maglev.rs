//! Maglev consistent hashing (Eisenbud et al., NSDI 2016), weighted.
//!
//! A lookup table of `M` entries (`M` prime) is filled once, in the constructor; a key
//! goes to `table[hash % M]`. Each backend has a preference permutation of the slots,
//! `(offset + j × skip) % M` for `j = 0, 1, …`, with `offset = h1 % M` and
//! `skip = h2 % (M − 1) + 1`, where `h1 = stable_hash("{id}-offset")` and
//! `h2 = stable_hash("{id}-skip")` hash the backend's identity (its address text). `M`
//! prime makes every permutation visit every slot.
//!
//! Backends take turns claiming their next still-free preferred slot. Weights: in each
//! round every backend earns its weight as credit and claims one slot per `max_weight`
//! of credit, i.e. backend `i` claims its `k`-th slot in round `ceil(k × max_weight /
//! w_i)`; within a round backends go in identity order, so listing the same backends in
//! another order builds the same table. Entries per backend are thus proportional to
//! weight, to within about one entry (the last round is partial). The rounds are
//! replayed with a heap, `O(M log n)` turns, not scanned one by one.
//!
//! Maglev gives minimal rather than zero disruption: when a backend is removed or added
//! a small fraction of other keys moves too, shrinking as `M` grows relative to the
//! number of backends. Marking a backend ineligible changes no table entry: only its keys
//! move, to the next acceptable entry in table order, as do keys of backends turned down
//! by their slow-start ramp or, with a balance factor, over their load cap (consistent
//! hashing with bounded loads: a backend of weight `w` takes a request only while it has
//! fewer than `ceil(f/100 × (T + 1) × w / W)` in flight, `T` the total in flight and `W`
//! the eligible weight). Requests without an affinity key go to a weighted random
//! backend.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;

use sluicegate_core::{EndpointSet, PickKey};

use crate::bounded::{LoadBound, walk};
use crate::members::{by_identity, index_u32, weights_for};
use crate::{Policy, Sampler, probe_from, stable_hash};

/// Largest table size (Envoy's limit; a prime). Larger requests are clamped to it.
pub const MAX_TABLE_SIZE: u32 = 5_000_011;

/// The usual table size (Envoy's default; a prime): good for up to a few hundred backends.
pub const DEFAULT_TABLE_SIZE: u32 = 65_537;

/// Marks a slot nobody claimed yet while filling.
const FREE: u32 = u32::MAX;

/// Maglev lookup table built once from backend identities and weights.
pub struct Maglev {
    /// `table[slot]` is the backend owning `slot`.
    table: Box<[u32]>,
    /// Requests without an affinity key.
    sampler: Sampler,
    balance_factor: Option<u32>,
}

impl Maglev {
    /// Builds the table. `ids[i]` is backend `i`'s stable identity (its address text, such
    /// as `"127.0.0.1:9001"`) and `weights[i]` its weight; a missing or zero weight counts
    /// as 1. `table_size` should be a prime (the config checks it); here a value that is
    /// not is rounded up to the next prime, one below 2 counts as 2, one above
    /// [`MAX_TABLE_SIZE`] as that, and one below the number of backends is raised to the
    /// first prime at least that large (backends then get about one entry each, light
    /// ones possibly none: consistent, but poorly balanced). `balance_factor` (percent, at least 100; lower
    /// counts as 100) turns on bounded loads.
    pub fn new(
        ids: &[&str],
        weights: &[u32],
        table_size: u32,
        balance_factor: Option<u32>,
    ) -> Self {
        let weights = weights_for(ids.len(), weights);
        let size = effective_table_size(table_size, ids.len());
        Self {
            table: populate(ids, &weights, size).into_boxed_slice(),
            sampler: Sampler::new(&weights),
            balance_factor,
        }
    }

    /// The lookup table (backend index per slot), for tests and diagnostics.
    pub fn table(&self) -> &[u32] {
        &self.table
    }

    /// The backend owning `hash` in the table, ignoring eligibility, ramp and load: where
    /// the key goes when every backend can take it. `None` only for an empty table.
    pub fn owner_at(&self, hash: u64) -> Option<usize> {
        self.table
            .get(self.slot(hash))
            .filter(|&&i| i != FREE)
            .map(|&i| i as usize)
    }

    fn slot(&self, hash: u64) -> usize {
        match self.table.len() as u64 {
            0 => 0,
            m => (hash % m) as usize,
        }
    }
}

impl Policy for Maglev {
    /// The owner of the key's slot or the next acceptable backend in table order. Without
    /// an affinity key: weighted random (the balance factor does not apply).
    #[inline]
    fn pick(&self, key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        let Some(hash) = key.affinity else {
            return self.sampler.draw(set).or_else(|| probe_from(0, set));
        };
        let bound = self.balance_factor.map(|f| LoadBound::read(f, set));
        let (wrapped, from_slot) = self.table.split_at(self.slot(hash));
        walk(from_slot.iter().chain(wrapped).copied(), set, bound)
    }
}

impl fmt::Debug for Maglev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Maglev")
            .field("table_size", &self.table.len())
            .field("backends", &self.sampler.len())
            .field("balance_factor", &self.balance_factor)
            .finish()
    }
}

/// The table size actually used for `requested` and `backends` (see [`Maglev::new`]).
fn effective_table_size(requested: u32, backends: usize) -> u64 {
    let wanted = u64::from(requested.clamp(2, MAX_TABLE_SIZE));
    next_prime(wanted.max(backends as u64))
}

fn next_prime(from: u64) -> u64 {
    (from.max(2)..).find(|&n| is_prime(n)).unwrap_or(from)
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// One backend's walk along its preference permutation.
struct Preference {
    next: u64,
    skip: u64,
    /// Slots of the permutation not yet looked at.
    left: u64,
}

impl Preference {
    fn new(id: &str, size: u64) -> Self {
        let offset = stable_hash(format!("{id}-offset").as_bytes()) % size;
        let skip = stable_hash(format!("{id}-skip").as_bytes()) % (size - 1) + 1;
        Self {
            next: offset,
            skip,
            left: size,
        }
    }

    /// Claims the next free slot of this backend's permutation, if any is left.
    fn claim(&mut self, table: &mut [u32], backend: u32) -> bool {
        let size = table.len() as u64;
        while self.left > 0 {
            let slot = self.next as usize;
            self.next = (self.next + self.skip) % size;
            self.left -= 1;
            if table[slot] == FREE {
                table[slot] = backend;
                return true;
            }
        }
        false
    }
}

/// Fills a table of `size` (a prime, at least 2) slots.
fn populate(ids: &[&str], weights: &[u32], size: u64) -> Vec<u32> {
    if ids.is_empty() {
        return Vec::new();
    }
    let mut table = vec![FREE; usize::try_from(size).unwrap_or(0)];
    let order = by_identity(ids);
    let mut prefs: Vec<Preference> = order
        .iter()
        .map(|&i| Preference::new(ids[i], size))
        .collect();
    let max_weight = u64::from(weights.iter().copied().max().unwrap_or(1));
    let weight_of = |rank: usize| u64::from(weights[order[rank]]);
    // Round in which a backend claims its `k`-th slot: the first with credit ≥ k × max.
    let round = |rank: usize, k: u64| (k * max_weight).div_ceil(weight_of(rank));
    // (round, rank in identity order, slots claimed so far), earliest first.
    let mut turns: BinaryHeap<Reverse<(u64, usize, u64)>> = (0..order.len())
        .map(|r| Reverse((round(r, 1), r, 0)))
        .collect();
    let mut filled = 0;
    while filled < table.len() {
        let Some(Reverse((_, rank, claimed))) = turns.pop() else {
            break; // Every permutation exhausted: only possible were `size` not prime.
        };
        if prefs[rank].claim(&mut table, index_u32(order[rank])) {
            filled += 1;
            turns.push(Reverse((round(rank, claimed + 2), rank, claimed + 1)));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeSet, IDS, key};

    fn owned(m: &Maglev, n: usize) -> Vec<usize> {
        let mut counts = vec![0; n];
        for &o in m.table() {
            counts[o as usize] += 1;
        }
        counts
    }

    #[test]
    fn table_sizes() {
        assert!(is_prime(u64::from(MAX_TABLE_SIZE)));
        assert!(is_prime(u64::from(DEFAULT_TABLE_SIZE)));
        assert_eq!(effective_table_size(65_537, 10), 65_537);
        assert_eq!(effective_table_size(100, 3), 101);
        assert_eq!(effective_table_size(0, 0), 2);
        assert_eq!(effective_table_size(1, 1), 2);
        assert_eq!(effective_table_size(7, 20), 23);
        assert_eq!(effective_table_size(u32::MAX, 3), u64::from(MAX_TABLE_SIZE));
    }

    #[test]
    fn every_slot_is_owned_and_shares_follow_weights() {
        let m = Maglev::new(&IDS, &[1, 2, 3, 4], 10_007, None);
        assert_eq!(m.table().len(), 10_007);
        let counts = owned(&m, 4);
        for (i, &c) in counts.iter().enumerate() {
            let want = 10_007.0 * (i + 1) as f64 / 10.0;
            assert!((c as f64 - want).abs() <= 4.0, "{i}: {c} vs {want}");
        }
    }

    #[test]
    fn placement_depends_on_identity_not_position() {
        let a = Maglev::new(&IDS, &[1, 2, 3, 4], 4_099, None);
        let reversed: Vec<&str> = IDS.iter().rev().copied().collect();
        let b = Maglev::new(&reversed, &[4, 3, 2, 1], 4_099, None);
        for (x, y) in a.table().iter().zip(b.table()) {
            assert_eq!(*x, 3 - *y);
        }
    }

    #[test]
    fn ineligible_and_ramping_pass_to_next_entries() {
        let mut set = FakeSet::weighted(&[1; 4]);
        let m = Maglev::new(&IDS, &set.weights, 1_009, None);
        for k in 0..500 {
            let home = m.owner_at(key(k).affinity.unwrap()).unwrap();
            assert_eq!(m.pick(&key(k), &set), Some(home));
        }
        set.eligible[2] = false;
        set.ramp[1] = 0;
        for k in 0..500 {
            let got = m.pick(&key(k), &set).unwrap();
            assert!(got == 0 || got == 3, "{got}");
        }
        set.eligible = vec![false; 4];
        assert_eq!(m.pick(&key(1), &set), None);
        assert_eq!(m.pick(&PickKey::default(), &set), None);
    }

    #[test]
    fn bounded_loads_divert_from_an_overloaded_home() {
        let mut set = FakeSet::weighted(&[1; 4]);
        let m = Maglev::new(&IDS, &set.weights, 1_009, Some(150));
        let home = m.owner_at(key(7).affinity.unwrap()).unwrap();
        set.in_flight = vec![2; 4];
        set.in_flight[home] = 5; // total 11: cap = ceil(1.5 × 12 / 4) = 5, full
        assert_ne!(m.pick(&key(7), &set), Some(home));
        set.in_flight[home] = 4; // total 10: cap = ceil(1.5 × 11 / 4) = 5, room for one
        assert_eq!(m.pick(&key(7), &set), Some(home));
    }

    #[test]
    fn small_and_bad_inputs_do_not_panic() {
        let m = Maglev::new(&[], &[], 65_537, None);
        assert!(m.table().is_empty());
        assert_eq!(m.owner_at(9), None);
        assert_eq!(m.pick(&key(1), &FakeSet::default()), None);
        assert_eq!(m.pick(&key(1), &FakeSet::weighted(&[1])), Some(0));
        // Non-prime and too small sizes: rounded up, every slot owned.
        let m = Maglev::new(&IDS, &[], 8, Some(0));
        assert_eq!(m.table().len(), 11);
        assert!(m.table().iter().all(|&o| o < 4));
        let m = Maglev::new(&IDS, &[1, 1, 1, 1], 1, None);
        assert_eq!(m.table().len(), 5);
        assert!(m.pick(&key(1), &FakeSet::weighted(&[1; 4])).is_some());
    }

    #[test]
    fn thousand_backends_in_65537_entries() {
        let ids: Vec<String> = (0..1_000)
            .map(|i| format!("10.1.{}.{}:80", i / 256, i % 256))
            .collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let weights: Vec<u32> = (0..1_000).map(|i| 1 + i % 4).collect();
        let m = Maglev::new(&ids, &weights, DEFAULT_TABLE_SIZE, None);
        let total: u32 = weights.iter().sum();
        for (i, &c) in owned(&m, 1_000).iter().enumerate() {
            let want = 65_537.0 * f64::from(weights[i]) / f64::from(total);
            assert!((c as f64 - want).abs() <= 2.0, "{i}: {c} vs {want}");
        }
    }
}
