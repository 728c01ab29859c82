//! Weighted random draws in O(1): Vose's alias table, built once from the configured
//! weights, plus the slow-start and eligibility rules every random-based policy shares.

use sluicegate_core::{EndpointSet, FULL_RAMP};

use crate::probe_from;

/// Draws after which a weighted draw gives up sampling and probes in order instead:
/// with half the backends ineligible, 8 misses in a row happen 1 time in 256.
const MAX_DRAWS: usize = 8;

/// An alias table over fixed weights: index `i` is drawn with probability
/// `weights[i] / sum(weights)`.
#[derive(Debug, Clone)]
pub struct Sampler {
    /// Chance (scaled to `u32::MAX`) of keeping slot `i` rather than its alias.
    keep: Box<[u32]>,
    alias: Box<[u32]>,
}

impl Sampler {
    /// Builds the table (zero weights count as 1).
    pub fn new(weights: &[u32]) -> Self {
        let n = weights.len();
        let total: f64 = weights.iter().map(|&w| f64::from(w.max(1))).sum();
        let mut scaled: Vec<f64> = weights
            .iter()
            .map(|&w| f64::from(w.max(1)) * n as f64 / total)
            .collect();
        let mut keep = vec![u32::MAX; n];
        let mut alias: Vec<u32> = (0..n).map(index_u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            keep[s] = (scaled[s] * f64::from(u32::MAX)) as u32;
            alias[s] = index_u32(l);
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        Self {
            keep: keep.into_boxed_slice(),
            alias: alias.into_boxed_slice(),
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.keep.len()
    }

    /// True when built from no weights.
    pub fn is_empty(&self) -> bool {
        self.keep.is_empty()
    }

    /// One weighted draw, ignoring eligibility. `None` only when empty.
    #[inline]
    pub fn sample(&self) -> Option<usize> {
        let n = self.keep.len();
        if n == 0 {
            return None;
        }
        let r = fastrand::u64(..);
        // Lemire's multiply-shift maps the high half onto 0..n without a division.
        let slot = (((r >> 32) * n as u64) >> 32) as usize;
        let coin = r as u32;
        if coin < self.keep[slot] {
            Some(slot)
        } else {
            self.alias.get(slot).map(|&a| a as usize)
        }
    }

    /// A weighted draw among eligible backends, scaled by their slow-start ramp:
    /// redraws up to `MAX_DRAWS` (8) times, then takes the first eligible backend after
    /// the last draw. `None` only when no backend is eligible.
    #[inline]
    pub fn draw(&self, set: &impl EndpointSet) -> Option<usize> {
        let len = set.len().min(self.len());
        if len == 0 {
            return None;
        }
        let mut last = 0;
        for _ in 0..MAX_DRAWS {
            last = self.sample()?;
            if last < len && set.is_eligible(last) && admit(set.ramp(last)) {
                return Some(last);
            }
        }
        probe_from(last % set.len(), set)
    }
}

/// Whether a backend at `ramp` per-mille of its weight takes a request it was drawn
/// for: always at full ramp, else with probability `ramp / 1000`.
#[inline]
pub fn admit(ramp: u32) -> bool {
    ramp >= FULL_RAMP || fastrand::u32(..FULL_RAMP) < ramp
}

fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSet;

    fn shares(weights: &[u32], draws: usize) -> Vec<f64> {
        let sampler = Sampler::new(weights);
        let mut counts = vec![0usize; weights.len()];
        for _ in 0..draws {
            counts[sampler.sample().unwrap()] += 1;
        }
        counts.iter().map(|&c| c as f64 / draws as f64).collect()
    }

    #[test]
    fn shares_follow_weights() {
        let weights = [5, 1, 1, 3];
        let got = shares(&weights, 200_000);
        for (i, &w) in weights.iter().enumerate() {
            let want = f64::from(w) / 10.0;
            assert!((got[i] - want).abs() < 0.01, "{i}: {} vs {want}", got[i]);
        }
    }

    #[test]
    fn draw_skips_ineligible_and_none_when_nothing_is() {
        let mut set = FakeSet::weighted(&[1, 1, 1]);
        set.eligible[1] = false;
        let sampler = Sampler::new(&set.weights);
        for _ in 0..1000 {
            assert_ne!(sampler.draw(&set), Some(1));
        }
        set.eligible = vec![false; 3];
        assert_eq!(sampler.draw(&set), None);
        assert_eq!(Sampler::new(&[]).draw(&FakeSet::default()), None);
    }
}
