//! A recompile hands back the same cluster (the same `Arc`) when neither its spec nor
//! the listeners routing to it changed; any change to either rebuilds it, with the
//! state of its unchanged backends carried over.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::sync::Arc;

use sluicegate_runtime::{Snapshot, compile};

/// Two clusters; `a_port` is the port of `a`'s second backend; `b_routed` adds a
/// route to `b` from a second listener.
fn snapshot(a_port: u16, b_routed: bool, previous: Option<&Snapshot>) -> Snapshot {
    let admin_route = if b_routed {
        "  admin:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: b\n"
    } else {
        "  admin:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: a\n"
    };
    let yaml = format!(
        "listeners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n      - {{ match: {{ host: a.example }}, cluster: a }}\n      - cluster: b\n{admin_route}\
         clusters:\n  a:\n    policy: maglev\n    backends:\n      - address: 127.0.0.1:9001\n      - address: 127.0.0.1:{a_port}\n\
         \x20 b:\n    policy: ring_hash\n    backends:\n      - address: 127.0.0.1:9101\n"
    );
    let config = sluicegate_config::parse(&yaml).unwrap();
    compile(&config, previous).unwrap()
}

fn same(x: &Snapshot, y: &Snapshot, cluster: &str) -> bool {
    Arc::ptr_eq(x.cluster(cluster).unwrap(), y.cluster(cluster).unwrap())
}

#[test]
fn an_unchanged_cluster_is_reused_and_a_changed_one_rebuilt_with_its_state() {
    let first = snapshot(9002, false, None);
    let second = snapshot(9002, false, Some(&first));
    assert!(same(&first, &second, "a") && same(&first, &second, "b"));
    assert_eq!(second.generation, first.generation + 1);

    first.cluster("a").unwrap().backends[0]
        .health()
        .set_drained(true);
    let third = snapshot(9003, false, Some(&second));
    assert!(!same(&second, &third, "a"), "a backend of a changed");
    assert!(same(&second, &third, "b"));
    let (old, new) = (second.cluster("a").unwrap(), third.cluster("a").unwrap());
    assert!(Arc::ptr_eq(
        old.backends[0].health(),
        new.backends[0].health()
    ));
    assert_eq!(new.backends[1].address().port(), 9003);
}

#[test]
fn a_cluster_whose_routing_listeners_change_is_rebuilt() {
    let first = snapshot(9002, false, None);
    let second = snapshot(9002, true, Some(&first));
    assert!(
        !same(&first, &second, "b"),
        "listener admin now routes to b"
    );
    assert!(
        !same(&first, &second, "a"),
        "listener admin no longer routes to a"
    );
}
