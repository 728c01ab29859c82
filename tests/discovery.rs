//! Discovered backend sets served through the reload core, in process: under 32
//! keep-alive clients while the set changes every 200 ms, no request fails and every
//! answer comes from a backend of a set current during the request; a backend failing
//! its checks stays out of rotation through updates that keep it, a removed one gets
//! nothing at once, a new one ramps up under slow start; consistent hashing places
//! keys the same whatever order the answer came in, and moves only the keys of the
//! backends that changed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sluicegate_core::PickKey;
use sluicegate_testkit::client::{Conn, empty, read_text, request};
use sluicegate_testkit::{Backend, BackendState, Proxy, WAIT, init_tracing, start_proxy, within};
use sluicegate_tests::support::health::{check, names, until_state};

/// A listener routing to discovered cluster `app`, with `keys` (indented YAML lines).
fn discovered(keys: &str) -> String {
    format!(
        "listeners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n{keys}    discovery:\n      dns: {{ name: app.internal, port: 80 }}\n"
    )
}

/// One answer a client got: when its request began and ended, and who answered.
struct Seen {
    began: Instant,
    ended: Instant,
    from: String,
}

/// One set served: when serving it began and when the call returned.
struct Served {
    began: Instant,
    done: Instant,
    names: Vec<String>,
}

async fn client(proxy: SocketAddr, until: Instant, seen: Arc<Mutex<Vec<Seen>>>) -> Vec<String> {
    let mut failures = Vec::new();
    let mut conn = Conn::open(proxy).await.expect("connect to the proxy");
    while Instant::now() < until {
        let began = Instant::now();
        let answer = match conn
            .send(request(http::Method::GET, proxy, "/", &[], empty()))
            .await
        {
            Ok(response) => within(WAIT, "a body", read_text(response)).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok((status, _, body)) if status == 200 => {
                let ended = Instant::now();
                seen.lock().unwrap().push(Seen {
                    began,
                    ended,
                    from: body,
                });
            }
            Ok((status, _, body)) => failures.push(format!("{status}: {body}")),
            Err(e) => {
                failures.push(e);
                conn = Conn::open(proxy).await.expect("reconnect to the proxy");
            }
        }
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_changing_every_200ms_under_32_clients_fails_nothing_and_serves_only_current_backends()
 {
    init_tracing();
    let backends: Vec<Backend> = (0..4).map(|i| Backend::named(&format!("b{i}"))).collect();
    let name_of: BTreeMap<SocketAddr, String> = backends
        .iter()
        .enumerate()
        .map(|(i, b)| (b.addr(), format!("b{i}")))
        .collect();
    let proxy = start_proxy(&discovered("")).await;
    let first = [backends[0].addr(), backends[1].addr()];
    let mut history = vec![Served {
        began: Instant::now(),
        done: Instant::now(),
        names: vec!["b0".into(), "b1".into()],
    }];
    proxy.discovered("app", &first).await;

    let until = Instant::now() + Duration::from_secs(3);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..32)
        .map(|_| tokio::spawn(client(proxy.addr(), until, seen.clone())))
        .collect();
    let mut turn = 1;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Two of the four, rotating: every backend leaves and comes back.
        let set = [backends[turn % 4].addr(), backends[(turn + 1) % 4].addr()];
        let began = Instant::now();
        proxy.discovered("app", &set).await;
        let names = set.iter().map(|a| name_of[a].clone()).collect();
        history.push(Served {
            began,
            done: Instant::now(),
            names,
        });
        turn += 1;
    }
    let mut failures = Vec::new();
    for c in clients {
        failures.extend(
            within(WAIT, "a client to stop", c)
                .await
                .expect("a client panicked"),
        );
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    assert!(
        history.len() >= 10,
        "only {} sets were served",
        history.len()
    );
    let seen = seen.lock().unwrap();
    assert!(
        seen.len() > 100,
        "only {} requests went through",
        seen.len()
    );
    // Set i is current from when serving it began until serving set i+1 returned.
    let current = |s: &Seen, i: usize| {
        let from = history[i].began;
        let to = history.get(i + 1).map(|h| h.done);
        from <= s.ended && to.is_none_or(|to| to >= s.began)
    };
    for s in seen.iter() {
        let ok = (0..history.len()).any(|i| current(s, i) && history[i].names.contains(&s.from));
        assert!(
            ok,
            "{} answered a request of {:?}..{:?}, outside every current set",
            s.from, s.began, s.ended
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_backend_stays_out_through_updates_and_a_removed_one_is_gone_at_once() {
    init_tracing();
    let (a, switch) = Backend::switchable("a");
    let (b, c) = (Backend::named("b"), Backend::named("c"));
    let keys = format!("    health_check: {}\n", check("http", 100, ""));
    let proxy = start_proxy(&discovered(&keys)).await;
    proxy.discovered("app", &[a.addr(), b.addr()]).await;
    switch.set_health(503);
    until_state(&proxy, a.addr(), BackendState::Unhealthy).await;

    // The update keeps `a`: it is not re-added as healthy.
    proxy
        .discovered("app", &[a.addr(), b.addr(), c.addr()])
        .await;
    assert_eq!(
        proxy.backend_state("app", a.addr()),
        BackendState::Unhealthy
    );
    let got = names(&proxy, 12).await;
    assert!(got.iter().all(|n| n == "b" || n == "c"), "{got:?}");

    // Removed with checks on: no request reaches it from the next one on.
    proxy.discovered("app", &[a.addr(), c.addr()]).await;
    let served = b.served();
    let got = names(&proxy, 8).await;
    assert!(got.iter().all(|n| n == "c"), "{got:?}");
    assert_eq!(b.served(), served, "a removed backend got a request");
    assert!(
        proxy
            .snapshot()
            .cluster("app")
            .expect("app")
            .backend(b.addr())
            .is_none()
    );
}

#[tokio::test]
async fn a_new_backend_ramps_up_under_slow_start_and_one_that_stays_keeps_its_ramp() {
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let proxy = start_proxy(&discovered("    slow_start: 60s\n")).await;
    proxy.discovered("app", &[a.addr()]).await;
    let cell = |s: &sluicegate_runtime::Snapshot, addr| {
        let cluster = s.cluster("app").expect("app");
        Arc::clone(cluster.backend(addr).expect("a backend").1.health())
    };
    let kept = cell(&proxy.snapshot(), a.addr());
    proxy.discovered("app", &[a.addr(), b.addr()]).await;
    let snapshot = proxy.snapshot();
    let cluster = snapshot.cluster("app").expect("app");
    let ramp = |addr| cluster.backend(addr).expect("a backend").1.ramp();
    assert!(
        ramp(b.addr()) < 1000,
        "the new backend did not ramp: {}",
        ramp(b.addr())
    );
    // The kept backend is the same backend: its ramp goes on from where it was.
    let same = Arc::ptr_eq(&kept, &cell(&snapshot, a.addr()));
    assert!(same, "the kept backend was made anew");
    assert!(ramp(a.addr()) >= ramp(b.addr()));
}

/// Two proxies with a discovered cluster (`keys`), fed the same `n` backends, the
/// second in the order `reorder` makes; and the backends, in the first one's order.
async fn fed_in_two_orders(
    keys: &str,
    n: u8,
    reorder: impl Fn(&mut Vec<SocketAddr>),
) -> (Proxy, Proxy, Vec<SocketAddr>) {
    let addrs: Vec<SocketAddr> = (1..=n)
        .map(|i| format!("127.0.0.{i}:80").parse().unwrap())
        .collect();
    let (one, two) = (
        start_proxy(&discovered(keys)).await,
        start_proxy(&discovered(keys)).await,
    );
    one.discovered("app", &addrs).await;
    let mut other = addrs.clone();
    reorder(&mut other);
    two.discovered("app", &other).await;
    (one, two, addrs)
}

/// The backend each of 10,000 keys goes to, by address.
fn placement(proxy: &Proxy) -> Vec<SocketAddr> {
    let snapshot = proxy.snapshot();
    let cluster = snapshot.cluster("app").expect("app");
    (0..10_000u64)
        .map(|k| {
            let key = PickKey {
                client_ip: None,
                affinity: Some(sluicegate_runtime::stable_hash(&k.to_le_bytes())),
            };
            cluster.pick(&key).expect("a backend").1.key.address
        })
        .collect()
}

#[tokio::test]
async fn hashing_places_keys_the_same_whatever_the_answer_order_and_moves_only_changed_keys() {
    let keys = "    policy: ring_hash\n    hash_on: { header: x-user }\n";
    let (one, two, addrs) = fed_in_two_orders(keys, 5, |set| set.reverse()).await;
    let placed = placement(&one);
    assert_eq!(placed, placement(&two), "the answer order moved keys");

    // Golden: the share of each backend, fixed by the hash (a change here moves every
    // fleet's keys on upgrade).
    let mut shares: BTreeMap<SocketAddr, usize> = BTreeMap::new();
    for a in &placed {
        *shares.entry(*a).or_default() += 1;
    }
    let shares: Vec<usize> = shares.into_values().collect();
    assert_eq!(
        shares,
        [2228, 1848, 1958, 1893, 2073],
        "golden shares changed"
    );

    // A sixth backend takes keys only for itself; removing one moves only its keys.
    let mut six = addrs.clone();
    six.push("127.0.0.6:80".parse().unwrap());
    one.discovered("app", &six).await;
    let after = placement(&one);
    for (before, now) in placed.iter().zip(&after) {
        assert!(
            before == now || now == &six[5],
            "a key moved from {before} to {now}"
        );
    }
    one.discovered("app", &addrs[1..]).await;
    let fewer = placement(&one);
    for (before, now) in placed.iter().zip(&fewer) {
        assert!(
            before == now || before == &addrs[0],
            "a key of {before} moved to {now}"
        );
    }
}

#[tokio::test]
async fn maglev_places_keys_the_same_whatever_the_answer_order() {
    let keys = "    policy: maglev\n    hash_on: { header: x-user }\n";
    let (one, two, _) = fed_in_two_orders(keys, 7, |set| {
        set.rotate_left(3);
        set.swap(0, 5);
    })
    .await;
    assert_eq!(
        placement(&one),
        placement(&two),
        "the answer order moved keys"
    );
}
