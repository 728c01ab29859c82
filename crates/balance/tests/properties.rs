//! Properties every policy must hold over random pools: it never picks an ineligible
//! backend, and it returns `None` exactly when no backend is eligible.
//!
//! To cover a new policy, add its name to `common::POLICIES` and `common::build`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod common;

use common::{POLICIES, Pool, build};
use proptest::prelude::*;
use sluicegate_balance::{Policy, stable_hash};
use sluicegate_core::{FULL_RAMP, PickKey};

/// Picks per policy per generated pool.
const PICKS: usize = 32;

/// 1 to 100 backends, weights 1 to 10000, eligibility dense or sparse (sometimes
/// none, sometimes all), random loads and slow-start ramps (0 to full).
fn pool() -> impl Strategy<Value = Pool> {
    let density = prop_oneof![Just(0.0), Just(0.03), 0.0..=1.0, Just(1.0)];
    (1usize..=100, density).prop_flat_map(|(n, density)| {
        let ramp = prop_oneof![3 => Just(FULL_RAMP), 1 => 0..=FULL_RAMP];
        (
            prop::collection::vec(1u32..=10_000, n),
            prop::collection::vec(prop::bool::weighted(density), n),
            prop::collection::vec(0u64..=20, n),
            prop::collection::vec(ramp, n),
        )
            .prop_map(|(weights, eligible, in_flight, ramp)| Pool {
                weights,
                eligible,
                in_flight,
                ramp,
            })
    })
}

/// Keys with and without an affinity hash.
fn key(i: usize) -> PickKey {
    PickKey {
        client_ip: None,
        affinity: (i % 4 < 3).then(|| stable_hash(&i.to_le_bytes())),
    }
}

/// Both properties for the policy called `name` over `set`, plus: a lone eligible
/// backend (`lone`) takes every pick.
fn check(name: &str, set: &Pool, lone: prop::sample::Index) -> Result<(), TestCaseError> {
    let policy = build(name, &set.weights);
    let any_eligible = set.eligible.iter().any(|&e| e);
    let lone = lone.index(set.weights.len());
    let only_lone = Pool {
        eligible: (0..set.weights.len()).map(|i| i == lone).collect(),
        ..set.clone()
    };
    for k in 0..PICKS {
        match policy.pick(&key(k), set) {
            Some(i) => {
                prop_assert!(i < set.weights.len(), "{name} picked {i} out of range");
                prop_assert!(set.eligible[i], "{name} picked ineligible {i}");
            }
            None => prop_assert!(!any_eligible, "{name} gave None with eligible backends"),
        }
        prop_assert_eq!(policy.pick(&key(k), &only_lone), Some(lone), "{}", name);
    }
    Ok(())
}

/// One property test per policy name (so they run in parallel and a failure names its
/// policy). Every name in `POLICIES` must appear here: see `every_policy_is_covered`.
macro_rules! properties {
    ($($test:ident => $name:literal,)*) => {
        const COVERED: &[&str] = &[$($name),*];

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            $(
                #[test]
                fn $test(set in pool(), lone in any::<prop::sample::Index>()) {
                    check($name, &set, lone)?;
                }
            )*
        }
    };
}

properties! {
    random_never_picks_ineligible_and_none_iff_none_eligible => "random",
    round_robin_never_picks_ineligible_and_none_iff_none_eligible => "round_robin",
    p2c_never_picks_ineligible_and_none_iff_none_eligible => "p2c",
    least_connections_never_picks_ineligible_and_none_iff_none_eligible => "least_connections",
    ip_hash_never_picks_ineligible_and_none_iff_none_eligible => "ip_hash",
    ring_hash_never_picks_ineligible_and_none_iff_none_eligible => "ring_hash",
    ring_hash_bounded_never_picks_ineligible_and_none_iff_none_eligible => "ring_hash_bounded",
    maglev_never_picks_ineligible_and_none_iff_none_eligible => "maglev",
    maglev_bounded_never_picks_ineligible_and_none_iff_none_eligible => "maglev_bounded",
}

#[test]
fn every_policy_is_covered() {
    assert_eq!(COVERED, POLICIES);
}

#[test]
fn empty_pool_gives_none() {
    for &name in POLICIES {
        let policy = build(name, &[]);
        assert_eq!(policy.pick(&key(1), &Pool::default()), None, "{name}");
        assert_eq!(policy.pick(&key(0), &Pool::default()), None, "{name}");
    }
}
