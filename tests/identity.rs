//! Client identity and request identity, seen from both ends: `X-Forwarded-*` and
//! `X-Real-IP` believed only from `trusted_proxies`, the client behind them used for
//! `ip_hash`, and `X-Request-Id` generated, kept from trusted peers, sent upstream and
//! returned. Clients play several hosts from `127.0.0.0/8` (all local on Linux).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};

use sluicegate_testkit::{Backend, Echoed, get, get_from, init_tracing, start_proxy};

/// The trusted front proxy in these tests.
const FRONT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// A client that is not trusted.
const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

/// Forged claims a client might send.
const CLAIMS: [(&str, &str); 6] = [
    ("x-forwarded-for", "6.6.6.6, 192.0.2.7"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "evil.example"),
    ("x-real-ip", "6.6.6.6"),
    ("x-request-id", "given-id-1"),
    ("forwarded", "for=6.6.6.6;proto=https"),
];

/// One listener trusting [`FRONT`] (as a /32), one cluster with `backends`.
fn yaml(backends: &[&Backend], cluster_lines: &str) -> String {
    let mut yaml = String::from(
        "listeners:\n  main:\n    address: 127.0.0.1:0\n    trusted_proxies: [127.0.0.2/32, 10.0.0.0/8]\n    routes:\n      - cluster: app\nclusters:\n  app:\n",
    );
    yaml.push_str(cluster_lines);
    yaml.push_str("    backends:\n");
    for backend in backends {
        yaml.push_str(&format!("      - address: {}\n", backend.addr()));
    }
    yaml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_client_cannot_claim_an_address_or_a_request_id() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&yaml(&[&echo], "")).await;
    let (status, headers, text) = get_from(STRANGER, proxy.addr(), "/", &CLAIMS).await;
    assert_eq!(status, 200, "{text}");
    let seen = Echoed::parse(&text);
    assert_eq!(seen.one("x-forwarded-for"), "127.0.0.3");
    assert_eq!(seen.one("x-real-ip"), "127.0.0.3");
    assert_eq!(seen.one("x-forwarded-proto"), "http");
    assert_eq!(seen.one("x-forwarded-host"), proxy.addr().to_string());
    // HDR-08: RFC 7239's field makes the same claims; from a stranger it is dropped.
    assert!(seen.all("forwarded").is_empty(), "{text}");
    let id = seen.one("x-request-id");
    assert_ne!(id, "given-id-1");
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(
        headers["x-request-id"], id,
        "the client gets the id sent upstream"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_extends_the_chain_and_names_the_client() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&yaml(&[&echo], "")).await;
    let (status, headers, text) = get_from(FRONT, proxy.addr(), "/", &CLAIMS).await;
    assert_eq!(status, 200, "{text}");
    let seen = Echoed::parse(&text);
    assert_eq!(seen.one("x-forwarded-for"), "6.6.6.6, 192.0.2.7, 127.0.0.2");
    // 6.6.6.6 is only what 192.0.2.7 claimed: the right-most untrusted hop is the client.
    assert_eq!(seen.one("x-real-ip"), "192.0.2.7");
    assert_eq!(seen.one("x-forwarded-proto"), "https");
    assert_eq!(seen.one("x-forwarded-host"), "evil.example");
    assert_eq!(seen.one("x-request-id"), "given-id-1");
    assert_eq!(headers["x-request-id"], "given-id-1");
    assert_eq!(seen.one("forwarded"), "for=6.6.6.6;proto=https");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_new_for_every_request_and_on_error_answers_too() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&yaml(&[&echo], "")).await;
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let (_, headers, text) = get(proxy.addr(), "/", &[]).await;
        let id = headers["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(Echoed::parse(&text).one("x-request-id"), id);
        ids.insert(id);
    }
    assert_eq!(ids.len(), 20, "{ids:?}");
    drop(echo);
    let dead = start_proxy(&yaml(&[&Backend::refusing()], "")).await;
    let (status, headers, _) = get(dead.addr(), "/", &[]).await;
    assert_eq!(status, 502);
    assert_eq!(headers["x-request-id"].len(), 36);
}

/// Which backend answers each client address, claimed through `via` with
/// `X-Forwarded-For`, on an `ip_hash` cluster of three named backends.
async fn ip_hash_placement(via: IpAddr) -> HashMap<String, String> {
    let (a, b, c) = (
        Backend::named("a"),
        Backend::named("b"),
        Backend::named("c"),
    );
    let proxy = start_proxy(&yaml(&[&a, &b, &c], "    policy: ip_hash\n")).await;
    let mut placed = HashMap::new();
    for round in 0..2 {
        for host in 1..13u8 {
            let client = format!("192.0.2.{host}");
            let (status, _, name) =
                get_from(via, proxy.addr(), "/", &[("x-forwarded-for", &client)]).await;
            assert_eq!(status, 200);
            let first = placed.entry(client.clone()).or_insert_with(|| name.clone());
            assert_eq!(*first, name, "client {client} moved in round {round}");
        }
    }
    placed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ip_hash_places_the_client_behind_a_trusted_proxy_not_the_proxy() {
    init_tracing();
    let behind_front = ip_hash_placement(FRONT).await;
    let used: HashSet<&String> = behind_front.values().collect();
    assert!(
        used.len() >= 2,
        "12 clients all on one backend: {behind_front:?}"
    );
    // From an untrusted peer the header is ignored: every claim lands where the peer does.
    let from_stranger = ip_hash_placement(STRANGER).await;
    let used: HashSet<&String> = from_stranger.values().collect();
    assert_eq!(
        used.len(),
        1,
        "a stranger's claims moved it: {from_stranger:?}"
    );
}
