//! Smooth weighted round-robin (nginx's sequence), lock-free.
//!
//! The constructor runs nginx's smooth algorithm once over one whole cycle and stores
//! the resulting sequence; `pick` is then one relaxed `fetch_add` and an index. Weights
//! 5,1,1 give `a a b a c a a`, spread out rather than bunched, and every thread
//! shares the one counter, so proportions hold exactly over each cycle under
//! concurrency.
//!
//! Slow start and ineligible backends: a backend at ramp `r` per-mille takes the slot
//! it was dealt with probability `r / 1000`; a declined slot, or one whose backend is
//! ineligible, is passed over for the next slot of the cycle (another `fetch_add`), up
//! to [`MAX_EXTRA_SLOTS`] times, and only then does the pick probe in index order.
//! Passing a slot on removes it from the cycle, so a ramping backend's share shrinks
//! to `weight × ramp` relative to the others, and an ineligible backend's share is
//! spread over the rest by weight instead of landing on its index neighbour.

use std::sync::atomic::{AtomicUsize, Ordering};

use sluicegate_core::{EndpointSet, PickKey};

use crate::{Policy, admit, probe_from};

/// Longest stored cycle. Weights are first divided by their greatest common divisor;
/// a cycle still longer than this (only with many backends of very unequal weights)
/// is scaled down proportionally, each backend keeping at least one slot.
const MAX_CYCLE: u64 = 1 << 16;

/// Cycle slots a pick may pass over beyond its first (backend ramping and declining,
/// or ineligible) before it probes in index order: bounds the `fetch_add`s per pick.
const MAX_EXTRA_SLOTS: usize = 4;

/// Smooth weighted round-robin over a fixed list of weights.
#[derive(Debug)]
pub struct RoundRobin {
    sequence: Box<[u32]>,
    next: AtomicUsize,
}

impl RoundRobin {
    /// Builds the cycle for these weights (index = backend index). Zero weights count as 1.
    pub fn new(weights: &[u32]) -> Self {
        Self {
            sequence: smooth_sequence(&effective_weights(weights)).into_boxed_slice(),
            next: AtomicUsize::new(0),
        }
    }

    /// The stored cycle, for tests and diagnostics.
    pub fn cycle(&self) -> &[u32] {
        &self.sequence
    }
}

impl Policy for RoundRobin {
    #[inline]
    fn pick(&self, _key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        let (cycle, len) = (self.sequence.len(), set.len());
        if cycle == 0 || len == 0 {
            return None;
        }
        let mut last = 0;
        for _ in 0..=MAX_EXTRA_SLOTS {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            last = self.sequence[n % cycle] as usize;
            if last < len && set.is_eligible(last) && admit(set.ramp(last)) {
                return Some(last);
            }
        }
        // The last slot's backend if eligible (its ramp no longer matters), else the
        // next eligible one in index order.
        probe_from(last % len, set)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

fn effective_weights(weights: &[u32]) -> Vec<u64> {
    let raw: Vec<u64> = weights.iter().map(|&w| u64::from(w.max(1))).collect();
    let divisor = raw.iter().copied().fold(0, gcd).max(1);
    let reduced: Vec<u64> = raw.iter().map(|w| w / divisor).collect();
    let total: u64 = reduced.iter().sum();
    if total <= MAX_CYCLE {
        return reduced;
    }
    reduced
        .iter()
        .map(|w| (w * MAX_CYCLE / total).max(1))
        .collect()
}

/// nginx's smooth weighted round-robin, run for one full cycle.
///
/// O(cycle × backends): the inner loop is kept to plain integer work on one slice so
/// that building stays quick in unoptimised (test) builds too.
fn smooth_sequence(weights: &[u64]) -> Vec<u32> {
    let total: u64 = weights.iter().sum();
    let total_signed = i64::try_from(total).unwrap_or(i64::MAX);
    // (current, weight) per backend.
    let mut state: Vec<(i64, i64)> = weights
        .iter()
        .map(|&w| (0, i64::try_from(w).unwrap_or(i64::MAX)))
        .collect();
    let mut sequence = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        // The first backend with the highest current value wins.
        let (mut best, mut best_value, mut i) = (0, i64::MIN, 0);
        for (current, weight) in state.iter_mut() {
            *current += *weight;
            if *current > best_value {
                best = i;
                best_value = *current;
            }
            i += 1;
        }
        if let Some((current, _)) = state.get_mut(best) {
            *current -= total_signed;
        }
        sequence.push(u32::try_from(best).unwrap_or(u32::MAX));
    }
    sequence
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSet;
    use std::sync::Arc;

    fn picks(rr: &RoundRobin, set: &FakeSet, n: usize) -> Vec<usize> {
        let key = PickKey::default();
        (0..n).map(|_| rr.pick(&key, set).unwrap()).collect()
    }

    #[test]
    fn nginx_golden_sequence_5_1_1() {
        let set = FakeSet::weighted(&[5, 1, 1]);
        let rr = RoundRobin::new(&set.weights);
        assert_eq!(picks(&rr, &set, 7), vec![0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(picks(&rr, &set, 7), vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn golden_sequences_other_weights() {
        let set = FakeSet::weighted(&[1, 1, 1]);
        assert_eq!(
            picks(&RoundRobin::new(&set.weights), &set, 6),
            vec![0, 1, 2, 0, 1, 2]
        );
        let set = FakeSet::weighted(&[2, 1]);
        assert_eq!(
            picks(&RoundRobin::new(&set.weights), &set, 6),
            vec![0, 1, 0, 0, 1, 0]
        );
        // gcd reduction: 10,20 behaves like 1,2.
        let set = FakeSet::weighted(&[10, 20]);
        assert_eq!(RoundRobin::new(&set.weights).cycle(), &[1, 0, 1]);
    }

    #[test]
    fn skips_ineligible_and_none_when_nothing_eligible() {
        let mut set = FakeSet::weighted(&[5, 1, 1]);
        set.eligible[0] = false;
        let rr = RoundRobin::new(&set.weights);
        assert!(picks(&rr, &set, 100).iter().all(|&i| i != 0));
        set.eligible = vec![false; 3];
        assert_eq!(rr.pick(&PickKey::default(), &set), None);
        assert_eq!(rr.pick(&PickKey::default(), &FakeSet::default()), None);
    }

    #[test]
    fn ineligible_share_is_spread_over_the_rest_by_weight() {
        let mut set = FakeSet::weighted(&[1, 1, 1]);
        set.eligible[1] = false;
        let rr = RoundRobin::new(&set.weights);
        // b's slot passes on to the next slot (c), then a's comes round again.
        assert_eq!(picks(&rr, &set, 6), vec![0, 2, 0, 2, 0, 2]);
    }

    #[test]
    fn ramping_backend_takes_its_slot_by_ramp() {
        let mut set = FakeSet::weighted(&[1, 1, 1, 1]);
        set.ramp[0] = 0;
        let rr = RoundRobin::new(&set.weights);
        assert!(picks(&rr, &set, 1_000).iter().all(|&i| i != 0));

        set.ramp[0] = 100;
        let n = 100_000;
        let zero = picks(&rr, &set, n).iter().filter(|&&i| i == 0).count();
        // Weight 1 × 10% against 3 × 100%: 0.1 / 3.1 of the picks.
        let share = zero as f64 / n as f64;
        assert!((share - 0.1 / 3.1).abs() < 0.005, "{share}");
    }

    #[test]
    fn all_ramping_and_declining_still_picks() {
        let mut set = FakeSet::weighted(&[1, 1]);
        set.ramp = vec![0, 0];
        let rr = RoundRobin::new(&set.weights);
        assert_eq!(picks(&rr, &set, 4).len(), 4);
    }

    #[test]
    fn exact_proportions_under_eight_threads() {
        let set = Arc::new(FakeSet::weighted(&[5, 3, 2]));
        let rr = Arc::new(RoundRobin::new(&set.weights));
        let per_thread = 1_000; // 8 threads x 1000 = 800 full cycles of 10.
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (rr, set) = (rr.clone(), set.clone());
                std::thread::spawn(move || picks(&rr, &set, per_thread))
            })
            .collect();
        let mut counts = [0usize; 3];
        for h in handles {
            for i in h.join().unwrap() {
                counts[i] += 1;
            }
        }
        assert_eq!(counts, [4_000, 2_400, 1_600]);
    }

    #[test]
    fn huge_cycles_are_scaled_but_keep_every_backend() {
        let weights: Vec<u32> = (1..=1000)
            .map(|i| if i % 2 == 0 { 10_000 } else { 9_999 })
            .collect();
        let rr = RoundRobin::new(&weights);
        assert!(rr.cycle().len() as u64 <= MAX_CYCLE + 1000);
        let mut seen = vec![false; 1000];
        for &i in rr.cycle() {
            seen[i as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
