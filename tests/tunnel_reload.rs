//! Tunnels across reloads: an open WebSocket keeps working through every reload that
//! keeps its listener, and drains with its listener when a reload removes it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use sluicegate_testkit::{
    Backend, Message, Proxy, WAIT, WsClient, eventually, init_tracing, start_proxy,
};

/// One config of the reload sequence: listener `main` routes to cluster `app` (the
/// WebSocket backend) unless `main` is false; `extra` adds a listener routing to
/// cluster `other`; `turn` varies `other`'s backends and weights, `other`'s policy
/// and `app`'s policy (which keeps `app`'s backend).
fn config(ws: &Backend, others: &[Backend], turn: usize, main: bool, extra: bool) -> String {
    let mut yaml = String::from("drain_timeout: 2s\nlisteners:\n");
    if main {
        yaml.push_str("  main:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\n");
    }
    if extra || !main {
        yaml.push_str("  extra:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: other\n");
    }
    let app_policy = ["round_robin", "least_connections"][turn % 2];
    let other_policy = ["random", "round_robin", "least_connections"][turn % 3];
    let _ = write!(
        yaml,
        "clusters:\n  app:\n    policy: {app_policy}\n    backends:\n      - address: {}\n  other:\n    policy: {other_policy}\n    backends:\n",
        ws.addr()
    );
    for (i, backend) in others.iter().enumerate().skip(turn % 2) {
        let weight = 1 + (turn + i) % 3;
        let _ = writeln!(
            yaml,
            "      - address: {}\n        weight: {weight}",
            backend.addr()
        );
    }
    yaml
}

/// The in-flight count of the WebSocket backend in the published snapshot.
fn in_flight(proxy: &Proxy, ws: &Backend) -> Option<u64> {
    let snapshot = proxy.snapshot();
    let cluster = snapshot.cluster("app")?;
    cluster.backend(ws.addr()).map(|(_, b)| b.in_flight())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_survives_reloads_and_drains_with_its_listener() {
    init_tracing();
    let ws_backend = Backend::websocket();
    let others = [Backend::named("o1"), Backend::named("o2")];
    let proxy = start_proxy(&config(&ws_backend, &others, 0, true, false)).await;
    let mut ws = WsClient::connect(proxy.listener("main"), "/live").await;
    ws.echo(Message::text("before")).await;
    let generation = proxy.generation();
    for turn in 1..=10 {
        proxy
            .apply(&config(&ws_backend, &others, turn, true, turn % 2 == 1))
            .await;
        ws.echo(Message::text(format!("after reload {turn}"))).await;
        ws.echo(Message::binary(vec![turn as u8; 3])).await;
        // The tunnel holds its backend's in-flight guard, carried across reloads.
        assert_eq!(in_flight(&proxy, &ws_backend), Some(1), "reload {turn}");
    }
    assert_eq!(proxy.generation(), generation + 10, "every reload applied");

    // Removing its listener: the tunnel drains with the listener's connections and is
    // closed when the drain timeout (2 s) ends, not before.
    let removed = Instant::now();
    proxy
        .apply(&config(&ws_backend, &others, 0, false, true))
        .await;
    ws.echo(Message::text("while draining")).await;
    assert!(
        ws.ends_within(WAIT).await,
        "the draining tunnel was never closed"
    );
    let after = removed.elapsed();
    assert!(after >= Duration::from_secs(2), "closed after {after:?}");
    assert!(
        eventually(WAIT, || ws_backend.closed() == 1).await,
        "the backend side of the tunnel stayed open"
    );
}
