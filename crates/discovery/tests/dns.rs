//! DNS sources against the testkit's DNS server on 127.0.0.1: what each answer
//! becomes (addresses, SRV targets, empty, failed), and when the next lookup comes
//! (the TTL, the refresh ceiling).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::IpAddr;
use std::time::Duration;

use common::{failed, found};
use sluicegate_config::Config;
use sluicegate_discovery::{Answer, Update};
use sluicegate_testkit::{DnsServer, WAIT};
use tokio::sync::mpsc::Receiver;

mod common;

fn config(dns: &str) -> Config {
    let text = format!(
        "listeners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: api\n\
         clusters:\n  api:\n    discovery:\n      dns: {dns}\n"
    );
    sluicegate_config::parse(&text).expect("a valid config")
}

fn ips(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|ip| ip.parse().unwrap()).collect()
}

async fn next(updates: &mut Receiver<Update>, wanted: impl Fn(&Answer) -> bool) -> Update {
    common::next(updates, WAIT, wanted).await
}

#[tokio::test]
async fn addresses_follow_the_records_through_ttl_expiry_servfail_and_nxdomain() {
    let dns = DnsServer::start();
    dns.set_addresses("api.internal", &ips(&["127.0.0.1", "::1"]), 1);
    let spec = format!(
        "{{ name: api.internal, port: 8080, refresh: 30s, resolver: \"{}\" }}",
        dns.addr()
    );
    let (_sources, mut updates) = common::run(&config(&spec));

    let first = next(&mut updates, found(&["127.0.0.1:8080", "[::1]:8080"])).await;
    assert_eq!(first.cluster.as_str(), "api");
    let Answer::Found(backends) = &first.answer else {
        unreachable!()
    };
    assert!(
        backends
            .iter()
            .all(|b| b.name.as_deref() == Some("api.internal:8080"))
    );

    // A TTL of 1 s asks again well before the 30 s refresh.
    dns.set_addresses("api.internal", &ips(&["127.0.0.2"]), 1);
    next(&mut updates, found(&["127.0.0.2:8080"])).await;

    dns.servfail("api.internal", true);
    let failed = next(&mut updates, failed).await;
    let Answer::Failed(why) = failed.answer else {
        unreachable!()
    };
    assert!(!why.is_empty());

    dns.servfail("api.internal", false);
    next(&mut updates, found(&["127.0.0.2:8080"])).await;
    dns.remove("api.internal");
    next(
        &mut updates,
        |a| matches!(a, Answer::Found(b) if b.is_empty()),
    )
    .await;
}

#[tokio::test]
async fn the_refresh_is_a_ceiling_on_a_long_ttl() {
    let dns = DnsServer::start();
    dns.set_addresses("api.internal", &ips(&["127.0.0.1"]), 3600);
    let spec = format!(
        "{{ name: api.internal, port: 80, refresh: 1s, resolver: \"{}\" }}",
        dns.addr()
    );
    let (_sources, mut updates) = common::run(&config(&spec));
    next(&mut updates, found(&["127.0.0.1:80"])).await;
    dns.set_addresses("api.internal", &ips(&["127.0.0.9"]), 3600);
    // Seen at the next refresh, not after the hour: the server was asked, not a cache.
    next(&mut updates, found(&["127.0.0.9:80"])).await;
}

#[tokio::test]
async fn srv_records_give_the_lowest_priority_targets_on_their_ports_and_weights() {
    let dns = DnsServer::start();
    dns.set_addresses("a.svc.internal", &ips(&["127.0.0.1"]), 5);
    dns.set_addresses("b.svc.internal", &ips(&["127.0.0.2", "127.0.0.3"]), 5);
    dns.set_addresses("backup.svc.internal", &ips(&["127.0.0.9"]), 5);
    let records = [
        (10, 3, 9001, "a.svc.internal"),
        (10, 1, 9002, "b.svc.internal"),
        (20, 1, 9009, "backup.svc.internal"),
    ];
    dns.set_srv("_grpc._tcp.svc.internal", &records, 1);
    let spec = format!(
        "{{ srv: _grpc._tcp.svc.internal, resolver: \"{}\" }}",
        dns.addr()
    );
    let (_sources, mut updates) = common::run(&config(&spec));

    let want = found(&["127.0.0.1:9001", "127.0.0.2:9002", "127.0.0.3:9002"]);
    let update = next(&mut updates, want).await;
    let Answer::Found(backends) = update.answer else {
        unreachable!()
    };
    let mut weights: Vec<(String, u32, String)> = backends
        .iter()
        .map(|b| {
            (
                b.address.to_string(),
                b.weight.get(),
                b.name.clone().unwrap(),
            )
        })
        .collect();
    weights.sort();
    assert_eq!(
        weights,
        [
            ("127.0.0.1:9001".into(), 3, "a.svc.internal:9001".into()),
            ("127.0.0.2:9002".into(), 1, "b.svc.internal:9002".into()),
            ("127.0.0.3:9002".into(), 1, "b.svc.internal:9002".into()),
        ]
    );

    // A weight change is an answer of its own.
    dns.set_srv(
        "_grpc._tcp.svc.internal",
        &[(10, 7, 9001, "a.svc.internal")],
        1,
    );
    let update = next(&mut updates, found(&["127.0.0.1:9001"])).await;
    let Answer::Found(backends) = update.answer else {
        unreachable!()
    };
    assert_eq!(backends[0].weight.get(), 7);
}

#[tokio::test]
async fn a_changed_spec_restarts_its_source_and_a_removed_one_stops() {
    let dns = DnsServer::start();
    dns.set_addresses("one.internal", &ips(&["127.0.0.1"]), 1);
    dns.set_addresses("two.internal", &ips(&["127.0.0.2"]), 1);
    let spec = |name: &str| format!("{{ name: {name}, port: 80, resolver: \"{}\" }}", dns.addr());
    let (mut sources, mut updates) = common::run(&config(&spec("one.internal")));
    next(&mut updates, found(&["127.0.0.1:80"])).await;
    sources.reconcile(&config(&spec("two.internal")));
    assert_eq!(sources.len(), 1);
    next(&mut updates, found(&["127.0.0.2:80"])).await;

    let without = sluicegate_config::parse(
        "listeners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: api\n\
         clusters:\n  api:\n    backends:\n      - address: 127.0.0.1:80\n",
    )
    .unwrap();
    sources.reconcile(&without);
    assert!(sources.is_empty());
    let asked = dns.queries("two.internal");
    // A stopped source asks no more: two TTLs later the count has moved by at most
    // the A and AAAA queries that were already on their way.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let later = dns.queries("two.internal");
    assert!(later <= asked + 2, "{asked} queries, then {later}");
}
