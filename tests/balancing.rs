//! Weighted round-robin through the proxy: exact proportions per cycle, sequentially
//! and under concurrency.

use std::collections::HashMap;

use sluicegate_testkit::{Backend, get, init_tracing, start_proxy};

/// Three backends `a`, `b`, `c` with weights 5, 1, 1 behind one listener.
fn weighted_config(a: &Backend, b: &Backend, c: &Backend) -> String {
    format!(
        "listeners:
  main:
    address: 127.0.0.1:0
    routes:
      - cluster: app
clusters:
  app:
    policy: round_robin
    backends:
      - address: {}
        weight: 5
      - address: {}
        weight: 1
      - address: {}
        weight: 1
",
        a.addr(),
        b.addr(),
        c.addr()
    )
}

fn tally<'a>(names: impl IntoIterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut counts = HashMap::new();
    for name in names {
        *counts.entry(name).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_5_1_1_give_exactly_50_10_10_and_every_cycle_is_5_1_1() {
    init_tracing();
    let (a, b, c) = (
        Backend::named("a"),
        Backend::named("b"),
        Backend::named("c"),
    );
    let proxy = start_proxy(&weighted_config(&a, &b, &c)).await;

    let mut bodies = Vec::new();
    for _ in 0..70 {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        assert_eq!(status, 200);
        bodies.push(body);
    }

    assert_eq!((a.requests(), b.requests(), c.requests()), (50, 10, 10));
    let expected_cycle = HashMap::from([("a", 5), ("b", 1), ("c", 1)]);
    for (i, cycle) in bodies.chunks(7).enumerate() {
        assert_eq!(
            tally(cycle.iter().map(String::as_str)),
            expected_cycle,
            "cycle {i} was {cycle:?}"
        );
        // Smooth: the light backends are spread out, never picked back to back.
        let light = cycle.windows(2).any(|w| w[0] != "a" && w[1] != "a");
        assert!(!light, "cycle {i} bunches the light backends: {cycle:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_keep_the_exact_proportions() {
    init_tracing();
    let (a, b, c) = (
        Backend::named("a"),
        Backend::named("b"),
        Backend::named("c"),
    );
    let proxy = start_proxy(&weighted_config(&a, &b, &c)).await;
    let addr = proxy.addr();

    let clients: Vec<_> = (0..7)
        .map(|_| {
            tokio::spawn(async move {
                let mut names = Vec::new();
                for _ in 0..10 {
                    let (status, _, body) = get(addr, "/", &[]).await;
                    assert_eq!(status, 200);
                    names.push(body);
                }
                names
            })
        })
        .collect();
    let mut all = Vec::new();
    for client in clients {
        all.extend(client.await.expect("client task panicked"));
    }

    assert_eq!(
        tally(all.iter().map(String::as_str)),
        HashMap::from([("a", 50), ("b", 10), ("c", 10)])
    );
    assert_eq!((a.requests(), b.requests(), c.requests()), (50, 10, 10));
}
