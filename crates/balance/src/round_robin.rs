//! Smooth weighted round-robin (nginx's sequence), lock-free.
//!
//! The constructor runs nginx's smooth algorithm once over one whole cycle and stores
//! the resulting sequence; `pick` is then one relaxed `fetch_add` and an index. Weights
//! 5,1,1 give `a a b a c a a`, spread out rather than bunched, and every thread
//! shares the one counter, so proportions hold exactly over each cycle under
//! concurrency.

use std::sync::atomic::{AtomicUsize, Ordering};

use sluicegate_core::{EndpointSet, PickKey};

use crate::{Policy, probe_from};

/// Longest stored cycle. Weights are first divided by their greatest common divisor;
/// a cycle still longer than this (only with many backends of very unequal weights)
/// is scaled down proportionally, each backend keeping at least one slot.
const MAX_CYCLE: u64 = 1 << 16;

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
        let len = self.sequence.len();
        if len == 0 || set.is_empty() {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let i = self.sequence[n % len] as usize;
        if i < set.len() && set.is_eligible(i) {
            return Some(i);
        }
        probe_from((i + 1) % set.len(), set)
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
fn smooth_sequence(weights: &[u64]) -> Vec<u32> {
    let total: u64 = weights.iter().sum();
    let total_signed = i64::try_from(total).unwrap_or(i64::MAX);
    let mut current = vec![0i64; weights.len()];
    let mut sequence = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            current[i] += i64::try_from(*w).unwrap_or(i64::MAX);
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total_signed;
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
