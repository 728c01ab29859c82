//! Service discovery in a real `sluicegate run` process: a cluster's backends from the
//! testkit's DNS server on 127.0.0.1, followed as its records change, the last good
//! set kept through SERVFAIL and NXDOMAIN, each answer counted and shown on
//! `/status`, a failing source logged once. Every wait is a poll with a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use sluicegate_testkit::{APPLIED, Detached, DnsServer, ProcessProxy, free_port, poll};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// The backends that answered `n` requests in a row.
fn answering(proxy: &ProcessProxy, n: usize) -> BTreeSet<String> {
    (0..n).map(|_| proxy.get()).collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn updates(proxy: &ProcessProxy, result: &str) -> f64 {
    proxy.metric(&format!(
        "sluicegate_discovery_updates_total{{cluster=\"api\",result=\"{result}\"}}"
    ))
}

#[test]
fn a_dns_cluster_follows_its_records_and_keeps_its_last_good_set() {
    let port = free_port().port();
    let mut fakes = Detached::start();
    fakes.named_on("a", SocketAddr::new(ip("127.0.0.1"), port));
    fakes.named_on("b", SocketAddr::new(ip("127.0.0.2"), port));
    let dns = DnsServer::start();
    dns.set_addresses("api.internal", &[ip("127.0.0.1")], 1);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    let yaml = format!(
        "listeners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: api\n\
         clusters:\n  api:\n    discovery:\n      dns: {{ name: api.internal, port: {port}, \
         refresh: 1s, resolver: \"{}\" }}\nadmin:\n  address: 127.0.0.1:0\n",
        dns.addr()
    );
    std::fs::write(&path, yaml).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, listen);
    // The first answer came before the listener served: no 503 at start.
    assert_eq!(proxy.get(), "a");

    dns.set_addresses("api.internal", &[ip("127.0.0.1"), ip("127.0.0.2")], 1);
    assert!(
        poll(APPLIED, || answering(&proxy, 6) == names(&["a", "b"])),
        "the added address was not served: {:?}",
        proxy.log()
    );

    // SERVFAIL: the set stays, the failure is counted, shown and logged once.
    dns.servfail("api.internal", true);
    assert!(poll(APPLIED, || updates(&proxy, "failed") >= 2.0));
    assert_eq!(answering(&proxy, 6), names(&["a", "b"]));
    assert_eq!(proxy.count("lookup failed"), 1, "{:?}", proxy.log());
    let status = proxy.status();
    let api = &status["clusters"][0];
    assert_eq!(api["discovery"]["source"], "dns");
    assert_eq!(api["discovery"]["target"], format!("api.internal:{port}"));
    assert_eq!(api["discovery"]["last_result"], "failed");
    assert_eq!(api["backends"].as_array().unwrap().len(), 2);
    assert_eq!(
        proxy.metric("sluicegate_discovery_backends{cluster=\"api\"}"),
        2.0
    );

    // It answers again, without 127.0.0.1: a is no longer picked.
    dns.servfail("api.internal", false);
    dns.set_addresses("api.internal", &[ip("127.0.0.2")], 1);
    assert!(poll(APPLIED, || answering(&proxy, 6) == names(&["b"])));
    assert!(proxy.logged("answers again"), "{:?}", proxy.log());

    // NXDOMAIN under empty: keep_last: b keeps serving.
    dns.remove("api.internal");
    assert!(poll(APPLIED, || updates(&proxy, "empty") >= 1.0));
    assert_eq!(answering(&proxy, 4), names(&["b"]));
    assert!(updates(&proxy, "applied") >= 3.0);
    let status = proxy.status();
    assert_eq!(status["clusters"][0]["discovery"]["last_result"], "empty");
}

#[test]
fn a_file_reload_keeps_the_discovered_set_and_check_contacts_nothing() {
    let port = free_port().port();
    let mut fakes = Detached::start();
    fakes.named_on("a", SocketAddr::new(ip("127.0.0.1"), port));
    let dns = DnsServer::start();
    dns.set_addresses("api.internal", &[ip("127.0.0.1")], 300);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    let yaml = |timeout: &str| {
        format!(
            "listeners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: api\n\
             clusters:\n  api:\n    connect_timeout: {timeout}\n    discovery:\n      dns: {{ name: api.internal, \
             port: {port}, refresh: 30s, resolver: \"{}\" }}\nadmin:\n  address: 127.0.0.1:0\n",
            dns.addr()
        )
    };
    std::fs::write(&path, yaml("1s")).unwrap();
    let asked_before_check = dns.queries("api.internal");
    let check = std::process::Command::new(BIN)
        .args(["check", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    assert_eq!(
        dns.queries("api.internal"),
        asked_before_check,
        "check asked the DNS server"
    );

    let proxy = ProcessProxy::start(BIN, &path, listen);
    assert_eq!(proxy.get(), "a");
    // The edit reloads the cluster (rebuilt), with its discovered backend kept, well
    // before the next lookup (30 s away).
    sluicegate_testkit::save(&path, &yaml("2s"));
    assert!(poll(APPLIED, || proxy.logged("connect_timeout")));
    assert_eq!(answering(&proxy, 4), names(&["a"]));
    assert_eq!(
        dns.queries("api.internal"),
        2,
        "one A and one AAAA query at start only"
    );
}

#[test]
#[ignore = "needs etcd (Debian etcd-server): .ci/run runs it"]
fn an_etcd_cluster_follows_its_keys_and_keeps_serving_while_etcd_is_down() {
    let mut fakes = Detached::start();
    let (a, b) = (fakes.named("a"), fakes.named("b"));
    let mut etcd = sluicegate_testkit::Etcd::start();
    let register = |key: &str, addr: SocketAddr| {
        etcd.put(
            &format!("/services/api/{key}"),
            &format!(r#"{{"address": "{addr}"}}"#),
        );
    };
    register("a", a);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    let yaml = format!(
        "listeners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: api\n\
         clusters:\n  api:\n    discovery:\n      etcd:\n        endpoints: [{}]\n        \
         prefix: /services/api/\n        timeout: 1s\nadmin:\n  address: 127.0.0.1:0\n",
        etcd.url()
    );
    std::fs::write(&path, yaml).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, listen);
    assert_eq!(proxy.get(), "a");
    register("b", b);
    assert!(poll(APPLIED, || answering(&proxy, 6) == names(&["a", "b"])));

    etcd.kill();
    assert!(poll(APPLIED, || updates(&proxy, "failed") >= 1.0));
    assert_eq!(
        answering(&proxy, 6),
        names(&["a", "b"]),
        "etcd down emptied the cluster"
    );
    assert_eq!(proxy.status()["clusters"][0]["discovery"]["source"], "etcd");

    etcd.restart();
    etcd.delete("/services/api/a");
    assert!(
        poll(APPLIED * 2, || answering(&proxy, 6) == names(&["b"])),
        "{:?}",
        proxy.log()
    );
}
