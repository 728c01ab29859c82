//! Every balancing policy chosen from YAML, through the proxy over real sockets,
//! counted at the backends.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use sluicegate_testkit::{
    Backend, Conn, eventually_async, get, get_from, init_tracing, start_proxy,
};

/// A config with one listener routing everything to cluster `app` of `backends`
/// (`(backend, weight)`), with these extra cluster lines (already indented YAML).
fn config(backends: &[(&Backend, u32)], cluster_lines: &str) -> String {
    let mut yaml = String::from(
        "listeners:\n  main:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\nclusters:\n  app:\n",
    );
    yaml.push_str(cluster_lines);
    yaml.push_str("    backends:\n");
    for (backend, weight) in backends {
        yaml.push_str(&format!(
            "      - address: {}\n        weight: {weight}\n",
            backend.addr()
        ));
    }
    yaml
}

fn three() -> (Backend, Backend, Backend) {
    (
        Backend::named("a"),
        Backend::named("b"),
        Backend::named("c"),
    )
}

/// Sends `n` requests on one keep-alive connection and returns the backend names.
async fn names(proxy: std::net::SocketAddr, n: usize, headers: &[(&str, &str)]) -> Vec<String> {
    let mut conn = Conn::open(proxy)
        .await
        .unwrap_or_else(|e| panic!("connect to the proxy: {e}"));
    let mut names = Vec::with_capacity(n);
    for _ in 0..n {
        let (status, _, body) = conn.get("/", headers).await;
        assert_eq!(status, 200, "body: {body}");
        names.push(body);
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_policies_share_requests_by_weight() {
    init_tracing();
    // 600 requests over weights 3:2:1 → expected 300/200/100. Random draws have a
    // standard deviation of about 12, so ±60 is five of them: it does not flake,
    // yet a policy ignoring weights (200 each) fails.
    for policy in ["random", "p2c", "round_robin", "least_connections"] {
        let (a, b, c) = three();
        let yaml = config(
            &[(&a, 3), (&b, 2), (&c, 1)],
            &format!("    policy: {policy}\n"),
        );
        let proxy = start_proxy(&yaml).await;
        names(proxy.addr(), 600, &[]).await;
        let got = [a.requests(), b.requests(), c.requests()];
        for (count, want) in got.iter().zip([300usize, 200, 100]) {
            assert!(
                count.abs_diff(want) <= 60,
                "{policy}: got {got:?}, want about [300, 200, 100]"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_connections_sends_fewer_requests_to_a_slow_backend() {
    init_tracing();
    let fast = Backend::named("fast");
    let slow = Backend::slow(Duration::from_millis(300));
    let yaml = config(&[(&fast, 1), (&slow, 1)], "    policy: least_connections\n");
    let proxy = start_proxy(&yaml).await;
    let addr = proxy.addr();
    let clients: Vec<_> = (0..6)
        .map(|_| tokio::spawn(async move { names(addr, 15, &[]).await }))
        .collect();
    for client in clients {
        client.await.expect("client task");
    }
    let (f, s) = (fast.requests(), slow.requests());
    assert_eq!(f + s, 90);
    // Round-robin would give the slow backend 45; it holds a request for 300 ms
    // while the fast one answers at once, so it should see only a few.
    assert!(s <= 20, "slow backend got {s} of 90 (fast {f})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_hash_keeps_each_client_address_on_one_backend() {
    init_tracing();
    let (a, b, c) = three();
    let yaml = config(&[(&a, 1), (&b, 1), (&c, 1)], "    policy: ip_hash\n");
    let proxy = start_proxy(&yaml).await;
    let mut placed: HashMap<IpAddr, String> = HashMap::new();
    for round in 0..3 {
        for host in 2..14u8 {
            let client = IpAddr::V4(Ipv4Addr::new(127, 0, 0, host));
            let (status, _, name) = get_from(client, proxy.addr(), "/", &[]).await;
            assert_eq!(status, 200);
            let first = placed.entry(client).or_insert_with(|| name.clone());
            assert_eq!(*first, name, "client {client} moved in round {round}");
        }
    }
    let used: HashSet<&String> = placed.values().collect();
    assert!(used.len() >= 2, "12 clients all on one backend: {placed:?}");
}

/// Sends `per_key` requests for each of `keys` (each key given by `headers_for`) and
/// checks every key stays on one backend, and that the keys spread over several.
async fn assert_sticky(
    proxy: std::net::SocketAddr,
    keys: usize,
    per_key: usize,
    headers_for: impl Fn(usize) -> (String, String),
) {
    let mut placed: HashMap<usize, String> = HashMap::new();
    for key in 0..keys {
        let (name, value) = headers_for(key);
        let names = names(proxy, per_key, &[(&name, &value)]).await;
        assert!(
            names.iter().all(|n| *n == names[0]),
            "key {key} ({name}: {value}) moved: {names:?}"
        );
        placed.insert(key, names[0].clone());
    }
    let used: HashSet<&String> = placed.values().collect();
    assert!(used.len() >= 2, "{keys} keys all on one backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_hash_by_header_and_by_cookie_is_sticky() {
    init_tracing();
    let (a, b, c) = three();
    let by_header = config(
        &[(&a, 1), (&b, 1), (&c, 1)],
        "    policy: ring_hash\n    hash_on: { header: X-User }\n",
    );
    let proxy = start_proxy(&by_header).await;
    assert_sticky(proxy.addr(), 20, 4, |k| {
        ("x-user".into(), format!("user-{k}"))
    })
    .await;

    let by_cookie = config(
        &[(&a, 1), (&b, 1), (&c, 1)],
        "    policy: ring_hash\n    hash_on: { cookie: session }\n",
    );
    let proxy = start_proxy(&by_cookie).await;
    assert_sticky(proxy.addr(), 20, 4, |k| {
        ("cookie".into(), format!("theme=dark; session=s{k}"))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maglev_by_query_parameter_is_sticky_and_a_missing_key_still_gets_served() {
    init_tracing();
    let (a, b, c) = three();
    let yaml = config(
        &[(&a, 1), (&b, 1), (&c, 1)],
        "    policy: maglev\n    hash_on: { query: user }\n    maglev: { table_size: 251 }\n",
    );
    let proxy = start_proxy(&yaml).await;
    let mut placed = HashMap::new();
    for key in 0..20 {
        for _ in 0..3 {
            let (status, _, name) = get(proxy.addr(), &format!("/?user=u{key}&x=1"), &[]).await;
            assert_eq!(status, 200);
            let first = placed.entry(key).or_insert_with(|| name.clone());
            assert_eq!(*first, name, "user u{key} moved");
        }
    }
    // No `user` parameter: weighted random, so 60 requests reach more than one backend.
    let spread: HashSet<String> = names(proxy.addr(), 60, &[]).await.into_iter().collect();
    assert!(spread.len() >= 2, "keyless requests all went to {spread:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_added_with_slow_start_ramps_up() {
    init_tracing();
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let lines = "    policy: round_robin\n    slow_start: 3s\n";
    let proxy = start_proxy(&config(&[(&a, 1)], lines)).await;
    assert_eq!(names(proxy.addr(), 10, &[]).await, vec!["a"; 10]);

    // b joins: it starts at 10% of its weight, so it gets well under half at first.
    proxy.apply(&config(&[(&a, 1), (&b, 1)], lines)).await;
    let early = names(proxy.addr(), 100, &[]).await;
    let early_b = early.iter().filter(|n| *n == "b").count();
    assert!(
        (1..=35).contains(&early_b),
        "b got {early_b} of the first 100 requests"
    );

    // Once the window has passed, b takes its full half.
    let addr = proxy.addr();
    let ramped = eventually_async(Duration::from_secs(20), || async move {
        let batch = names(addr, 40, &[]).await;
        batch.iter().filter(|n| *n == "b").count() == 20
    })
    .await;
    assert!(ramped, "b never reached its full share");
}
