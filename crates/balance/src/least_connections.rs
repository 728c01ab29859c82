//! Least connections, weighted: the eligible backend with the fewest requests in flight
//! relative to its effective weight (weight scaled by its slow-start ramp).
//!
//! Ties go round-robin by weight: the scan starts at the backend the smooth weighted
//! round-robin cycle deals next (which already honours slow start and eligibility)
//! and only a strictly lower load displaces the current best, so with equal loads the
//! picks follow the smooth weighted round-robin sequence exactly. O(n) per pick, but
//! the scan stops at once when the starting backend is idle: nothing is below zero.

use sluicegate_core::{EndpointSet, PickKey};

use crate::load::Load;
use crate::{Policy, RoundRobin};

/// Fewest in-flight requests per unit of effective weight; ties broken by smooth
/// weighted round-robin.
#[derive(Debug)]
pub struct LeastConnections {
    /// Deals the starting backend of each scan.
    ties: RoundRobin,
}

impl LeastConnections {
    /// A policy over these weights (index = backend index); the weights set the
    /// round-robin tie-breaking, loads are read from the set at pick time.
    pub fn new(weights: &[u32]) -> Self {
        Self {
            ties: RoundRobin::new(weights),
        }
    }
}

impl Policy for LeastConnections {
    #[inline]
    fn pick(&self, key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        // `None` only when nothing is eligible; otherwise an eligible start.
        let start = self.ties.pick(key, set)?;
        let mut best = (start, Load::of(set, start));
        // From after the start to the end, then from 0 up to the start.
        if !best.1.is_idle() && !lower_in(start + 1..set.len(), set, &mut best) {
            lower_in(0..start, set, &mut best);
        }
        Some(best.0)
    }
}

/// Replaces `best` with each eligible backend in `range` that is strictly less loaded,
/// in order. True as soon as the best is idle: nothing can be lower, the scan is over.
#[inline]
fn lower_in(
    range: std::ops::Range<usize>,
    set: &impl EndpointSet,
    best: &mut (usize, Load),
) -> bool {
    for i in range {
        if !set.is_eligible(i) {
            continue;
        }
        let load = Load::of(set, i);
        if load.lt(best.1) {
            *best = (i, load);
            if load.is_idle() {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSet;

    fn picks(lc: &LeastConnections, set: &FakeSet, n: usize) -> Vec<usize> {
        let key = PickKey::default();
        (0..n).map(|_| lc.pick(&key, set).unwrap()).collect()
    }

    fn counts(lc: &LeastConnections, set: &FakeSet, n: usize) -> Vec<usize> {
        let mut counts = vec![0; set.weights.len()];
        for i in picks(lc, set, n) {
            counts[i] += 1;
        }
        counts
    }

    #[test]
    fn equal_loads_give_the_smooth_round_robin_sequence() {
        let set = FakeSet::weighted(&[5, 1, 1]);
        let lc = LeastConnections::new(&set.weights);
        assert_eq!(picks(&lc, &set, 14), [0, 0, 1, 0, 2, 0, 0].repeat(2));

        let mut set = FakeSet::weighted(&[2, 1]);
        set.in_flight = vec![4, 2]; // 4/2 == 2/1: still a tie.
        let lc = LeastConnections::new(&set.weights);
        assert_eq!(picks(&lc, &set, 6), vec![0, 1, 0, 0, 1, 0]);
    }

    #[test]
    fn picks_the_least_loaded_per_weight() {
        let mut set = FakeSet::weighted(&[1, 1, 1]);
        set.in_flight = vec![3, 1, 2];
        let lc = LeastConnections::new(&set.weights);
        assert!(picks(&lc, &set, 30).iter().all(|&i| i == 1));

        // 6/3 = 2 beats 3/1 = 3 and 5/2 = 2.5.
        let mut set = FakeSet::weighted(&[1, 3, 2]);
        set.in_flight = vec![3, 6, 5];
        let lc = LeastConnections::new(&set.weights);
        assert!(picks(&lc, &set, 30).iter().all(|&i| i == 1));
    }

    #[test]
    fn a_busier_backend_gets_nothing_while_the_others_are_lower() {
        let mut set = FakeSet::weighted(&[4, 1, 1, 1]);
        set.in_flight = vec![9, 2, 2, 2];
        let lc = LeastConnections::new(&set.weights);
        // 9/4 > 2/1 despite the weight; the others tie and share every pick.
        let got = counts(&lc, &set, 7_000);
        assert_eq!(got[0], 0);
        assert!(got[1..].iter().all(|&c| c > 0), "{got:?}");
    }

    #[test]
    fn skips_ineligible_and_none_when_nothing_eligible() {
        let mut set = FakeSet::weighted(&[1, 1, 1]);
        set.in_flight = vec![0, 5, 7];
        set.eligible[0] = false;
        let lc = LeastConnections::new(&set.weights);
        assert!(picks(&lc, &set, 30).iter().all(|&i| i == 1));
        set.eligible = vec![false; 3];
        assert_eq!(lc.pick(&PickKey::default(), &set), None);
        assert_eq!(lc.pick(&PickKey::default(), &FakeSet::default()), None);
    }

    #[test]
    fn ramping_backend_counts_its_load_against_its_ramped_weight() {
        let mut set = FakeSet::weighted(&[10, 10]);
        set.in_flight = vec![2, 10];
        set.ramp = vec![100, 1_000];
        let lc = LeastConnections::new(&set.weights);
        // 2 / (10 × 10%) = 2 is more than 10 / 10 = 1.
        assert!(picks(&lc, &set, 30).iter().all(|&i| i == 1));
    }
}
