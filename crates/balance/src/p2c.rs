//! Power of two choices: draw two backends by weight, send to the less loaded one.
//!
//! Load is in-flight requests per unit of effective weight (weight scaled by the
//! slow-start ramp), compared exactly by cross-multiplication. Both draws honour
//! eligibility and slow start; the second is redrawn a few times if it repeats the
//! first. O(1) per pick in the common case, and far less herding than least
//! connections when many proxies share stale load counts.

use sluicegate_core::{EndpointSet, PickKey};

use crate::load::Load;
use crate::{Policy, Sampler, admit};

/// Draws for a second candidate distinct from the first before the pick settles for
/// the first alone. With two equal backends, 8 repeats in a row happen 1 time in 256.
const SECOND_DRAWS: usize = 8;

/// Two weighted-random candidates; the one with fewer in-flight requests per unit of
/// effective weight wins, the first on a tie.
#[derive(Debug, Clone)]
pub struct PowerOfTwo {
    sampler: Sampler,
}

impl PowerOfTwo {
    /// A policy over these weights (index = backend index).
    pub fn new(weights: &[u32]) -> Self {
        Self {
            sampler: Sampler::new(weights),
        }
    }

    /// A weighted draw, eligible, admitted by its ramp and other than `first`; `None`
    /// after [`SECOND_DRAWS`] misses (then `first` is the only eligible backend, or
    /// nearly: no probing in order, which would cost O(n) for nothing).
    #[inline]
    fn second(&self, first: usize, set: &impl EndpointSet) -> Option<usize> {
        let len = set.len();
        (0..SECOND_DRAWS)
            .filter_map(|_| self.sampler.sample())
            .find(|&i| i != first && i < len && set.is_eligible(i) && admit(set.ramp(i)))
    }
}

impl Policy for PowerOfTwo {
    #[inline]
    fn pick(&self, _key: &PickKey, set: &impl EndpointSet) -> Option<usize> {
        let first = self.sampler.draw(set)?;
        let Some(second) = self.second(first, set) else {
            return Some(first);
        };
        if Load::of(set, second).lt(Load::of(set, first)) {
            Some(second)
        } else {
            Some(first)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSet;

    fn counts(p: &PowerOfTwo, set: &FakeSet, n: usize) -> Vec<usize> {
        let key = PickKey::default();
        let mut counts = vec![0; set.weights.len()];
        for _ in 0..n {
            counts[p.pick(&key, set).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn heavily_loaded_backend_gets_far_fewer_picks() {
        let mut set = FakeSet::weighted(&[1, 1, 1, 1]);
        set.in_flight = vec![100, 1, 1, 1];
        let p = PowerOfTwo::new(&set.weights);
        let got = counts(&p, &set, 40_000);
        // Only when both draws hit backend 0, i.e. the second never found another.
        assert!(got[0] < 100, "{got:?}");
        assert!(got[1..].iter().all(|&c| c > 12_000), "{got:?}");
    }

    #[test]
    fn lower_load_per_weight_wins_over_fewer_requests() {
        // Backend 0: 4 in flight at weight 10 (0.4) beats backend 1: 1 at weight 1.
        let mut set = FakeSet::weighted(&[10, 1]);
        set.in_flight = vec![4, 1];
        let p = PowerOfTwo::new(&set.weights);
        let got = counts(&p, &set, 10_000);
        // Backend 1 wins only when drawn alone: ~(1/11) × (1/11)^8 of the time.
        assert!(got[1] < 10, "{got:?}");
    }

    #[test]
    fn single_eligible_and_none_when_nothing_eligible() {
        let mut set = FakeSet::weighted(&[1, 1, 1]);
        set.eligible = vec![false, true, false];
        let p = PowerOfTwo::new(&set.weights);
        assert_eq!(counts(&p, &set, 100), vec![0, 100, 0]);
        set.eligible = vec![false; 3];
        assert_eq!(p.pick(&PickKey::default(), &set), None);
        assert_eq!(p.pick(&PickKey::default(), &FakeSet::default()), None);
    }

    #[test]
    fn equal_loads_follow_the_weights() {
        let set = FakeSet::weighted(&[3, 1]);
        let p = PowerOfTwo::new(&set.weights);
        let got = counts(&p, &set, 40_000);
        let share = got[0] as f64 / 40_000.0;
        assert!((share - 0.75).abs() < 0.02, "{got:?}");
    }
}
