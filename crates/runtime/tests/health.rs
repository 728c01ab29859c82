//! Health as the pick sees it, on compiled configs: unhealthy and ejected backends are
//! skipped, panic mode picks among all, a retry avoids the backend it tried, the
//! outlier detector respects the cluster's cap, and cells survive a recompile.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use sluicegate_core::PickKey;
use sluicegate_runtime::{BackendState, Snapshot, compile};

fn snapshot(cluster_keys: &str, previous: Option<&Snapshot>) -> Snapshot {
    let yaml = format!(
        "listeners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: 127.0.0.1:9001\n      - address: 127.0.0.1:9002\n      - address: 127.0.0.1:9003\n{cluster_keys}"
    );
    let config = sluicegate_config::parse(&yaml).unwrap();
    compile(&config, previous).unwrap()
}

fn key() -> PickKey {
    PickKey::from_client(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The backend indices 30 picks land on.
fn picked(snapshot: &Snapshot) -> HashSet<usize> {
    let cluster = snapshot.cluster("app").unwrap();
    (0..30)
        .filter_map(|_| cluster.pick(&key()).map(|(i, _)| i))
        .collect()
}

#[test]
fn unhealthy_backends_are_skipped_until_panic_mode_takes_all() {
    let s = snapshot("    panic_threshold: 50%\n", None);
    let cluster = s.cluster("app").unwrap();
    cluster.backends[0].health().set_unhealthy(true);
    assert_eq!(cluster.backends[0].state(), BackendState::Unhealthy);
    assert_eq!(picked(&s), HashSet::from([1, 2]));
    assert!(!cluster.in_panic(), "2 of 3 healthy is above 50%");
    cluster.backends[1].health().set_unhealthy(true);
    assert!(cluster.in_panic(), "1 of 3 healthy is below 50%");
    assert_eq!(picked(&s), HashSet::from([0, 1, 2]));
    // A drained backend stays out even in panic mode.
    cluster.set_drained(cluster.backends[2].address(), true);
    assert_eq!(picked(&s), HashSet::from([0, 1]));
    cluster.backends[0].health().set_unhealthy(false);
    cluster.backends[1].health().set_unhealthy(false);
    assert!(!cluster.in_panic());
    assert_eq!(picked(&s), HashSet::from([0, 1]));
}

#[test]
fn without_panic_mode_no_healthy_backend_means_no_pick() {
    let s = snapshot("", None);
    let cluster = s.cluster("app").unwrap();
    for b in &cluster.backends {
        b.health().set_unhealthy(true);
    }
    assert!(cluster.pick(&key()).is_none());
    assert!(!cluster.in_panic());
}

#[test]
fn a_retry_avoids_what_it_tried_unless_nothing_else_is_eligible() {
    let s = snapshot("", None);
    let cluster = s.cluster("app").unwrap();
    for _ in 0..10 {
        let (i, _) = cluster.pick_avoiding(&key(), &[0, 1]).unwrap();
        assert_eq!(i, 2);
    }
    cluster.backends[2].health().set_unhealthy(true);
    let (i, _) = cluster.pick_avoiding(&key(), &[0, 1]).unwrap();
    assert!(i < 2, "falls back to a tried backend: {i}");
}

#[tokio::test]
async fn the_outlier_detector_ejects_at_most_its_share_of_the_cluster() {
    let s = snapshot(
        "    outlier: { consecutive_failures: 3, base_ejection: 1h, max_ejected_percent: 50 }\n",
        None,
    );
    let cluster = s.cluster("app").unwrap();
    let [a, b, _] = &cluster.backends[..] else {
        panic!("three backends")
    };
    cluster.record_outcome(a, true);
    cluster.record_outcome(a, true);
    cluster.record_outcome(a, false);
    cluster.record_outcome(a, true);
    cluster.record_outcome(a, true);
    assert_eq!(a.state(), BackendState::Up, "a success resets the count");
    cluster.record_outcome(a, true);
    assert_eq!(a.state(), BackendState::Ejected);
    assert_eq!(a.health().ejections(), 1);
    for _ in 0..10 {
        cluster.record_outcome(b, true);
    }
    assert_eq!(
        b.state(),
        BackendState::Up,
        "2 of 3 ejected would be over 50%"
    );
    assert_eq!(picked(&s), HashSet::from([1, 2]));
}

#[test]
fn health_state_survives_a_recompile_and_new_backends_start_as_configured() {
    let check = "    health_check: { interval: 1h, initial_state: unhealthy }\n";
    let first = snapshot(check, None);
    let app = first.cluster("app").unwrap();
    assert!(
        app.backends
            .iter()
            .all(|b| b.state() == BackendState::Unhealthy)
    );
    app.backends[0].health().set_unhealthy(false);
    app.backends[1].health().set_drained(true);
    let second = snapshot(check, Some(&first));
    let app = second.cluster("app").unwrap();
    assert_eq!(app.backends[0].state(), BackendState::Up);
    assert_eq!(app.backends[1].state(), BackendState::Drained);
    assert_eq!(app.backends[2].state(), BackendState::Unhealthy);
    assert!(std::sync::Arc::ptr_eq(
        first.cluster("app").unwrap().backends[0].health(),
        app.backends[0].health()
    ));
}
