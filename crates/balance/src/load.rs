//! Load comparison shared by the load-aware policies: in-flight requests relative to
//! the backend's effective weight (configured weight scaled by its slow-start ramp).

use sluicegate_core::{EndpointSet, FULL_RAMP};

/// Weight of backend `i` scaled by its slow-start ramp: `weight × ramp / 1000`, at
/// least 1 so that an idle backend always compares as least loaded.
#[inline]
pub(crate) fn effective_weight(set: &impl EndpointSet, i: usize) -> u64 {
    let (weight, ramp) = (u64::from(set.weight(i)), set.ramp(i));
    if ramp >= FULL_RAMP {
        return weight.max(1);
    }
    (weight * u64::from(ramp) / u64::from(FULL_RAMP)).max(1)
}

/// The load of one backend as the fraction `in_flight / effective_weight`, kept as a
/// numerator and denominator so comparisons need no division and no float.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Load {
    in_flight: u64,
    weight: u64,
}

impl Load {
    /// The current load of backend `i`.
    #[inline]
    pub(crate) fn of(set: &impl EndpointSet, i: usize) -> Self {
        Self {
            in_flight: set.in_flight(i),
            weight: effective_weight(set, i),
        }
    }

    /// Nothing in flight: no other load is strictly lower.
    #[inline]
    pub(crate) fn is_idle(self) -> bool {
        self.in_flight == 0
    }

    /// Strictly less loaded than `other`, by cross-multiplication in `u128` (exact:
    /// both products fit).
    #[inline]
    pub(crate) fn lt(self, other: Self) -> bool {
        u128::from(self.in_flight) * u128::from(other.weight)
            < u128::from(other.in_flight) * u128::from(self.weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSet;

    #[test]
    fn effective_weight_scales_by_ramp_with_floor_one() {
        let mut set = FakeSet::weighted(&[10, 1, 10_000]);
        assert_eq!(effective_weight(&set, 0), 10);
        set.ramp = vec![100, 100, 500];
        assert_eq!(effective_weight(&set, 0), 1);
        assert_eq!(effective_weight(&set, 1), 1);
        assert_eq!(effective_weight(&set, 2), 5_000);
    }

    #[test]
    fn compares_in_flight_per_weight() {
        let mut set = FakeSet::weighted(&[1, 3, 3]);
        set.in_flight = vec![1, 2, 3];
        let (a, b, c) = (Load::of(&set, 0), Load::of(&set, 1), Load::of(&set, 2));
        // 2/3 < 1/1 < ... and 3/3 == 1/1.
        assert!(b.lt(a));
        assert!(!a.lt(b));
        assert!(!a.lt(c) && !c.lt(a));
        assert!(!a.is_idle());
    }

    #[test]
    fn huge_counts_do_not_overflow() {
        let mut set = FakeSet::weighted(&[10_000, 1]);
        set.in_flight = vec![u64::MAX, u64::MAX - 1];
        // u64::MAX / 10_000 is far below (u64::MAX - 1) / 1.
        assert!(Load::of(&set, 0).lt(Load::of(&set, 1)));
        assert!(!Load::of(&set, 1).lt(Load::of(&set, 0)));
        set.in_flight = vec![u64::MAX, u64::MAX / 20_000];
        assert!(Load::of(&set, 1).lt(Load::of(&set, 0)));
    }
}
