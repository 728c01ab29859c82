//! Long-run shares through the public API: with equal completion (nothing stays in
//! flight) every policy sends each backend its weight's share of the traffic, and a
//! backend in slow start at ramp 100 (10%) about a tenth of that.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod common;

use common::{Pool, build};
use sluicegate_balance::{Policy, stable_hash};
use sluicegate_core::PickKey;

const PICKS: usize = 100_000;

/// Policies whose shares follow the weights whatever the keys.
const WEIGHTED: &[&str] = &["random", "round_robin", "p2c", "least_connections"];

/// Fraction of `PICKS` picks that went to each backend. Every pick has its own
/// affinity hash, so hash policies spread too.
fn shares(name: &str, set: &Pool) -> Vec<f64> {
    let policy = build(name, &set.weights);
    let mut counts = vec![0usize; set.weights.len()];
    for n in 0..PICKS {
        let key = PickKey {
            client_ip: None,
            affinity: Some(stable_hash(&n.to_le_bytes())),
        };
        counts[policy.pick(&key, set).unwrap()] += 1;
    }
    counts.iter().map(|&c| c as f64 / PICKS as f64).collect()
}

/// Each backend's share of the sum of `weights` (scaled by per-mille `ramp`).
fn expected(weights: &[u32], ramp: &[u32]) -> Vec<f64> {
    let scaled: Vec<f64> = weights
        .iter()
        .zip(ramp)
        .map(|(&w, &r)| f64::from(w) * f64::from(r) / 1000.0)
        .collect();
    let sum: f64 = scaled.iter().sum();
    scaled.iter().map(|s| s / sum).collect()
}

#[test]
fn shares_follow_the_weights_within_two_points() {
    for weights in [&[5, 3, 1, 1][..], &[1, 2, 3, 4, 10]] {
        let set = Pool::weighted(weights);
        let want = expected(weights, &set.ramp);
        for &name in WEIGHTED.iter().chain(&["ip_hash"]) {
            let got = shares(name, &set);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 0.02,
                    "{name} {weights:?}: backend {i} got {g:.4}, want {w:.4}"
                );
            }
        }
    }
}

#[test]
fn slow_start_at_ten_percent_gets_a_tenth_of_the_share() {
    // (weights, ramping backend): a light backend in a heavy pool, so a tenth of its
    // weight is close to a tenth of its share.
    for (weights, ramping) in [(&[5, 3, 1, 1][..], 3), (&[1, 2, 3, 4, 10], 0)] {
        let mut set = Pool::weighted(weights);
        let normal = expected(weights, &set.ramp)[ramping];
        set.ramp[ramping] = 100;
        let want = expected(weights, &set.ramp);
        for &name in WEIGHTED {
            let got = shares(name, &set);
            let ratio = got[ramping] / normal;
            assert!(
                (0.06..=0.16).contains(&ratio),
                "{name} {weights:?}: ramping backend got {ratio:.3} of its normal share"
            );
            // The others take up the rest by weight.
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 0.02,
                    "{name} {weights:?}: backend {i} got {g:.4}, want {w:.4}"
                );
            }
        }
        // Hash affinity admits a tenth of the ramping backend's keys; the rest go to
        // the next backend, so only the ramping share is checked.
        let ratio = shares("ip_hash", &set)[ramping] / normal;
        assert!(
            (0.07..=0.13).contains(&ratio),
            "ip_hash {weights:?}: {ratio:.3}"
        );
    }
}

#[test]
fn ineligible_backends_get_nothing_and_the_rest_keep_their_proportions() {
    let weights = [5, 3, 1, 1];
    let mut set = Pool::weighted(&weights);
    set.eligible[1] = false;
    let want = expected(&[5, 0, 1, 1], &set.ramp);
    for &name in WEIGHTED {
        let got = shares(name, &set);
        assert_eq!(got[1], 0.0, "{name}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= 0.02,
                "{name}: backend {i} got {g:.4}, want {w:.4}"
            );
        }
    }
}
