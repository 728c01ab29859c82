//! etcd sources against a real etcd on 127.0.0.1 (Debian's etcd-server, started by
//! the testkit): the prefix read, puts and deletes applied within a second, etcd
//! killed (the failure reported, the set kept by the reload side) and restarted (read
//! again and watched, the changes made meanwhile applied), a compaction past the watched
//! revision (the prefix read again). Ignored without etcd; `.ci/run` runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::time::{Duration, Instant};

use common::{failed, found, next};
use sluicegate_config::Config;
use sluicegate_discovery::Answer;
use sluicegate_testkit::{Etcd, TestCert, WAIT};

mod common;

fn config(etcd: &Etcd, extra: &str) -> Config {
    let text = format!(
        "listeners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: pay\n\
         clusters:\n  pay:\n    discovery:\n      etcd:\n        endpoints: [{}]\n        \
         prefix: /services/pay/\n{extra}",
        etcd.url()
    );
    sluicegate_config::parse(&text).expect("a valid config")
}

fn value(address: &str, weight: u32) -> String {
    format!(r#"{{"address": "{address}", "weight": {weight}}}"#)
}

#[tokio::test]
#[ignore = "needs etcd (Debian etcd-server): .ci/run runs it"]
async fn the_prefix_is_read_then_watched_and_changes_arrive_within_a_second() {
    let etcd = Etcd::start();
    etcd.put("/services/pay/a", &value("10.0.0.1:8443", 2));
    etcd.put("/services/other/x", &value("10.9.9.9:80", 1));
    let (_sources, mut updates) = common::run(&config(&etcd, ""));
    let first = next(&mut updates, WAIT, found(&["10.0.0.1:8443"])).await;
    let Answer::Found(backends) = first.answer else {
        unreachable!()
    };
    assert_eq!(backends[0].weight.get(), 2);

    for (change, want) in [
        ("put b", vec!["10.0.0.1:8443", "10.0.0.2:8443"]),
        ("delete a", vec!["10.0.0.2:8443"]),
        ("bad c", vec!["10.0.0.2:8443"]),
    ] {
        match change {
            "put b" => {
                etcd.put("/services/pay/b", &value("10.0.0.2:8443", 1));
            }
            "delete a" => etcd.delete("/services/pay/a"),
            _ => {
                etcd.put("/services/pay/c", "not json");
            }
        }
        // From etcdctl's return (it spawns a process or two, which a busy machine
        // makes slow): the change itself.
        let done = Instant::now();
        next(&mut updates, WAIT, found(&want)).await;
        let took = done.elapsed();
        assert!(took < Duration::from_secs(1), "{change} took {took:?}");
    }
}

#[tokio::test]
#[ignore = "needs etcd (Debian etcd-server): .ci/run runs it"]
async fn a_killed_etcd_is_reported_and_its_restart_resumes_the_watch_with_what_changed() {
    let mut etcd = Etcd::start();
    etcd.put("/services/pay/a", &value("10.0.0.1:80", 1));
    let (_sources, mut updates) = common::run(&config(&etcd, "        timeout: 1s\n"));
    next(&mut updates, WAIT, found(&["10.0.0.1:80"])).await;

    etcd.kill();
    let failed = next(&mut updates, WAIT, failed).await;
    let Answer::Failed(why) = failed.answer else {
        unreachable!()
    };
    assert!(why.contains("127.0.0.1"), "{why}");

    // Changes made while the source was away: etcd restarts, the source catches up.
    etcd.restart();
    etcd.put("/services/pay/b", &value("10.0.0.2:80", 1));
    etcd.delete("/services/pay/a");
    // The retries back off to 2 s, 4 s …: within the wait after the restart.
    next(&mut updates, WAIT * 2, found(&["10.0.0.2:80"])).await;
}

#[tokio::test]
#[ignore = "needs etcd (Debian etcd-server): .ci/run runs it"]
async fn a_compaction_past_the_watched_revision_reads_the_prefix_again() {
    let mut etcd = Etcd::start();
    etcd.put("/services/pay/a", &value("10.0.0.1:80", 1));
    let (_sources, mut updates) = common::run(&config(&etcd, "        timeout: 1s\n"));
    next(&mut updates, WAIT, found(&["10.0.0.1:80"])).await;

    // While the source cannot see: a put and a delete, then history compacted past
    // both, so no watch could replay them: the source's read after it reconnects has
    // them all.
    etcd.kill();
    next(&mut updates, WAIT, failed).await;
    etcd.restart();
    etcd.put("/services/pay/b", &value("10.0.0.2:80", 1));
    etcd.delete("/services/pay/a");
    let revision = etcd.put("/services/pay/c", &value("10.0.0.3:80", 1));
    etcd.compact(revision);
    next(
        &mut updates,
        WAIT * 2,
        found(&["10.0.0.2:80", "10.0.0.3:80"]),
    )
    .await;
    // Watching again past the compaction: a change still arrives.
    etcd.delete("/services/pay/b");
    next(&mut updates, WAIT, found(&["10.0.0.3:80"])).await;
}

#[tokio::test]
#[ignore = "needs etcd (Debian etcd-server): .ci/run runs it"]
async fn with_authentication_on_the_source_logs_in_and_a_wrong_password_is_a_failure() {
    let mut etcd = Etcd::start();
    etcd.enable_auth("sluicegate", "s3cret", "/services/pay/");
    etcd.put("/services/pay/a", &value("10.0.0.1:80", 1));
    let login = |password: &str| {
        config(
            &etcd,
            &format!("        username: sluicegate\n        password: {password}\n"),
        )
    };
    let (mut sources, mut updates) = common::run(&login("s3cret"));
    next(&mut updates, WAIT, found(&["10.0.0.1:80"])).await;
    // Changes arrive through the authenticated watch too.
    etcd.put("/services/pay/b", &value("10.0.0.2:80", 1));
    next(&mut updates, WAIT, found(&["10.0.0.1:80", "10.0.0.2:80"])).await;

    sources.reconcile(&login("wrong"));
    let failed = next(&mut updates, WAIT, failed).await;
    let Answer::Failed(why) = failed.answer else {
        unreachable!()
    };
    assert!(why.starts_with("authenticate at "), "{why}");
}

#[tokio::test]
#[ignore = "needs etcd (Debian etcd-server): .ci/run runs it"]
async fn over_tls_the_source_verifies_etcd_and_shows_its_client_certificate() {
    let (server, client) = (
        TestCert::new(&["127.0.0.1"]),
        TestCert::new(&["sluicegate"]),
    );
    let etcd = Etcd::start_tls(&server, Some(&client));
    etcd.put("/services/pay/a", &value("10.0.0.1:80", 1));
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = client.write(dir.path(), "sluicegate");
    let ca = etcd.ca_file().unwrap();
    let tls = |identity: &str| {
        format!(
            "        tls: {{ ca: {}{identity} }}\n        timeout: 2s\n",
            ca.display()
        )
    };
    let with_identity = format!(", cert: {}, key: {}", cert.display(), key.display());
    let (mut sources, mut updates) = common::run(&config(&etcd, &tls(&with_identity)));
    next(&mut updates, WAIT, found(&["10.0.0.1:80"])).await;

    // Without the client certificate etcd refuses the session.
    sources.reconcile(&config(&etcd, &tls("")));
    next(&mut updates, WAIT, failed).await;
    // A server certificate no CA vouches for is refused too.
    let stranger = TestCert::new(&["127.0.0.1"])
        .write(dir.path(), "stranger")
        .0;
    let untrusted = format!(
        "        tls: {{ ca: {} }}\n        timeout: 2s\n",
        stranger.display()
    );
    sources.reconcile(&config(&etcd, &untrusted));
    next(&mut updates, WAIT, failed).await;
}
