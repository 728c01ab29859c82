//! Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2018), as
//! in HAProxy's `hash-balance-factor` and Envoy's `hash_balance_factor`, plus the walk
//! that both [`RingHash`](crate::RingHash) and [`Maglev`](crate::Maglev) use to go from a
//! key's home backend to the next acceptable one in ring or table order.
//!
//! With a balance factor `f` (percent), a backend of weight `w` may take a new request
//! only while it has fewer than `ceil(f/100 × (T + 1) × w / W)` requests in flight, where
//! `T` is the total in flight over the set (the `+ 1` counts the request being placed)
//! and `W` the summed weight of the eligible backends. After it takes the request its
//! load is therefore at most that cap. The caps of the eligible backends add up to at
//! least `T + 1`, so some eligible backend is always under its cap.

use sluicegate_core::EndpointSet;

use crate::admit;

/// Smallest meaningful balance factor: at 100% every backend is held to (the ceiling
/// of) its weighted share of the requests in flight.
pub const MIN_BALANCE_FACTOR: u32 = 100;

/// The load cap of one pick: the set's totals, read once per pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoadBound {
    /// `f × (T + 1)`.
    scaled_total: u128,
    /// `100 × W`.
    scaled_weight: u128,
}

impl LoadBound {
    /// Reads the set's totals for one pick. `factor` below [`MIN_BALANCE_FACTOR`]
    /// counts as [`MIN_BALANCE_FACTOR`].
    #[inline]
    pub(crate) fn read(factor: u32, set: &impl EndpointSet) -> Self {
        let factor = u128::from(factor.max(MIN_BALANCE_FACTOR));
        Self {
            scaled_total: factor * (u128::from(set.total_in_flight()) + 1),
            scaled_weight: 100 * u128::from(set.eligible_weight()),
        }
    }

    /// Whether a backend with `in_flight` requests and weight `weight` may take one more:
    /// `in_flight < ceil(f × (T + 1) × w / (100 × W))`, which for integers is the same
    /// as `in_flight × 100 × W < f × (T + 1) × w`. An idle backend always may.
    #[inline]
    pub(crate) fn admits(&self, in_flight: u64, weight: u32) -> bool {
        u128::from(in_flight) * self.scaled_weight < self.scaled_total * u128::from(weight.max(1))
    }
}

/// Chooses a backend by walking `order` (backend indices in ring or table order,
/// starting at the key's home position): the first backend that is eligible, is admitted
/// by its slow-start ramp and, under `bound`, is under its load cap.
///
/// Runs of the same backend count as one probe, and the walk stops after the first
/// choice plus `set.len()` probes. If that finds nothing (the order keeps returning to a
/// few unacceptable backends), the same test is applied to every backend in index order
/// from the home backend; if still nothing (ramp draws turned every one down, or the
/// in-flight counters moved under us), the least loaded eligible backend relative to its
/// weight is taken. `None` only when no backend is eligible.
#[inline]
pub(crate) fn walk(
    order: impl Iterator<Item = u32>,
    set: &impl EndpointSet,
    bound: Option<LoadBound>,
) -> Option<usize> {
    let len = set.len();
    if len == 0 {
        return None;
    }
    // Least loaded eligible backend seen (relative to weight), first seen on ties.
    let mut fallback: Option<Loaded> = None;
    let mut accepts = |i: usize| {
        if i >= len || !set.is_eligible(i) {
            return false;
        }
        let seen = Loaded::of(i, set);
        if bound.is_none_or(|b| b.admits(seen.in_flight, seen.weight)) && admit(set.ramp(i)) {
            return true;
        }
        if fallback.is_none_or(|f| seen.lighter_than(&f)) {
            fallback = Some(seen);
        }
        false
    };
    let mut home = None;
    let mut previous = None;
    let mut probes = 0usize;
    for backend in order {
        let i = backend as usize;
        if previous == Some(i) {
            continue;
        }
        previous = Some(i);
        home.get_or_insert(i);
        if probes > len {
            break;
        }
        probes += 1;
        if accepts(i) {
            return Some(i);
        }
    }
    let start = home.unwrap_or(0) % len;
    if let Some(i) = (0..len)
        .map(|step| (start + step) % len)
        .find(|&i| accepts(i))
    {
        return Some(i);
    }
    fallback.map(|f| f.index)
}

/// A backend's load as seen during one walk.
#[derive(Clone, Copy, Debug)]
struct Loaded {
    index: usize,
    in_flight: u64,
    weight: u32,
}

impl Loaded {
    fn of(index: usize, set: &impl EndpointSet) -> Self {
        Self {
            index,
            in_flight: set.in_flight(index),
            weight: set.weight(index).max(1),
        }
    }

    /// `self.in_flight / self.weight < other.in_flight / other.weight`, without division.
    fn lighter_than(&self, other: &Self) -> bool {
        u128::from(self.in_flight) * u128::from(other.weight)
            < u128::from(other.in_flight) * u128::from(self.weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeSet;

    fn bound(set: &FakeSet, factor: u32) -> LoadBound {
        LoadBound::read(factor, set)
    }

    #[test]
    fn cap_is_ceil_of_factor_times_average() {
        // 4 equal backends, 10 in flight: cap = ceil(1.25 × 11 / 4) = ceil(3.4375) = 4.
        let mut set = FakeSet::weighted(&[1, 1, 1, 1]);
        set.in_flight = vec![4, 3, 3, 0];
        let b = bound(&set, 125);
        assert!(!b.admits(4, 1));
        assert!(b.admits(3, 1));
        // Exactly on an integer: 100% of (7 + 1) / 4 = 2, so 1 may take one more, 2 not.
        set.in_flight = vec![3, 2, 2, 0];
        let b = bound(&set, 100);
        assert!(b.admits(1, 1));
        assert!(!b.admits(2, 1));
    }

    #[test]
    fn cap_scales_with_weight_and_ignores_ineligible_weight() {
        let mut set = FakeSet::weighted(&[1, 3, 100]);
        set.eligible[2] = false;
        set.in_flight = vec![0, 7, 0];
        // W = 4, T + 1 = 8: caps are 2 (weight 1) and 6 (weight 3) at 100%.
        let b = bound(&set, 100);
        assert!(b.admits(1, 1) && !b.admits(2, 1));
        assert!(b.admits(5, 3) && !b.admits(6, 3));
    }

    #[test]
    fn idle_backend_and_low_factor() {
        let set = FakeSet::weighted(&[1, 1]);
        // A factor below 100 counts as 100; an idle backend is always admitted.
        assert_eq!(bound(&set, 0), bound(&set, 100));
        assert!(bound(&set, 100).admits(0, 1));
    }

    #[test]
    fn walk_skips_ineligible_and_overloaded() {
        let mut set = FakeSet::weighted(&[1, 1, 1]);
        assert_eq!(walk([0, 1, 2].into_iter(), &set, None), Some(0));
        set.eligible[0] = false;
        assert_eq!(walk([0, 0, 2, 1].into_iter(), &set, None), Some(2));
        set.eligible[0] = true;
        set.in_flight = vec![5, 5, 0];
        let b = Some(bound(&set, 125));
        assert_eq!(walk([0, 1, 2].into_iter(), &set, b), Some(2));
    }

    #[test]
    fn walk_falls_back_when_order_is_short_or_empty() {
        let mut set = FakeSet::weighted(&[1, 1, 1]);
        set.eligible = vec![false, true, false];
        // The order never mentions backend 1: probe in index order from the home backend.
        assert_eq!(walk([2, 0].into_iter(), &set, None), Some(1));
        assert_eq!(walk(std::iter::empty(), &set, None), Some(1));
        // Out-of-range indices (a table built for more backends) are skipped.
        assert_eq!(walk([7, 9].into_iter(), &set, None), Some(1));
        // Bounded: backend 0 over its cap is not in the order; the under-cap probe finds 2.
        let mut set = FakeSet::weighted(&[1, 1, 1]);
        set.in_flight = vec![0, 9, 0];
        let b = Some(bound(&set, 125));
        assert_eq!(walk([1].into_iter(), &set, b), Some(2));
        set.eligible = vec![false; 3];
        assert_eq!(walk([0, 1, 2].into_iter(), &set, b), None);
        assert_eq!(walk([0].into_iter(), &FakeSet::default(), None), None);
    }
}
