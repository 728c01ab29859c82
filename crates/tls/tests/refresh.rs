//! `ServerTls::refresh` without a watcher: a changed valid pair is swapped in for new
//! handshakes while open connections keep going, an unchanged one is left alone, a bad
//! one is refused and the loaded pair kept; the metrics follow.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod support;

use std::time::Duration;

use support::{
    EchoServer, Metrics, Pem, cert_expiring, cert_for, params, round_trip, served, temp_dir,
    write_pair,
};

const NAME: Option<&str> = Some("site.test");

#[tokio::test]
async fn a_changed_pair_is_served_from_the_next_handshake_on() {
    let (_guard, dir) = temp_dir();
    let old = cert_expiring(&["site.test"], 2035);
    let pair = write_pair(&dir, "site", &old);
    let metrics = Metrics::new();
    let tls = metrics.load(params("refresh", vec![pair.clone()], 0));
    let server = EchoServer::start(tls.clone(), Duration::from_secs(10)).await;
    let mut open = support::Client::sni(NAME)
        .connect(server.addr)
        .await
        .expect("handshake");
    assert_eq!(open.leaf, old.der);
    assert_eq!(tls.refresh(), 0, "nothing changed yet");

    let new = cert_expiring(&["site.test"], 2040);
    write_pair(&dir, "site", &new);
    assert_eq!(tls.refresh(), 1);
    assert_eq!(served(server.addr, NAME).await, new.der);
    assert_eq!(
        round_trip(&mut open.stream, b"still here\n").await,
        b"still here\n"
    );
    assert_eq!(tls.refresh(), 0, "the new pair is loaded: nothing to swap");
    assert_eq!(metrics.reloads("refresh", "ok"), 1);
    assert_eq!(metrics.reloads("refresh", "error"), 0);
    let jan_2040 = 2_208_988_800.0;
    assert_eq!(metrics.expiry("refresh", &pair.cert), jan_2040);
}

#[tokio::test]
async fn a_bad_new_pair_keeps_the_loaded_one_and_counts_an_error() {
    let (_guard, dir) = temp_dir();
    let old = cert_for(&["site.test"]);
    let pair = write_pair(&dir, "site", &old);
    let metrics = Metrics::new();
    let tls = metrics.load(params("bad", vec![pair.clone()], 0));
    let server = EchoServer::start(tls.clone(), Duration::from_secs(10)).await;

    let (new, other) = (cert_for(&["site.test"]), cert_for(&["other.test"]));
    std::fs::write(&pair.cert, &new.cert).expect("new cert");
    std::fs::write(&pair.key, &other.key).expect("a key that does not match");
    assert_eq!(tls.refresh(), 0);
    assert_eq!(served(server.addr, NAME).await, old.der);
    assert_eq!(metrics.reloads("bad", "error"), 1);

    std::fs::remove_file(&pair.key).expect("remove the key");
    assert_eq!(tls.refresh(), 0);
    assert_eq!(served(server.addr, NAME).await, old.der);
    assert_eq!(metrics.reloads("bad", "error"), 2);

    std::fs::write(&pair.key, &new.key).expect("the matching key");
    assert_eq!(tls.refresh(), 1);
    assert_eq!(served(server.addr, NAME).await, new.der);
    assert_eq!(metrics.reloads("bad", "ok"), 1);
}

#[tokio::test]
async fn a_swapped_pair_brings_its_new_names() {
    let (_guard, dir) = temp_dir();
    let pems: [Pem; 2] = [cert_for(&["default.test"]), cert_for(&["one.test"])];
    let pairs = vec![
        write_pair(&dir, "d", &pems[0]),
        write_pair(&dir, "n", &pems[1]),
    ];
    let tls = Metrics::new().load(params("names", pairs, 0));
    let server = EchoServer::start(tls.clone(), Duration::from_secs(10)).await;
    assert_eq!(served(server.addr, Some("one.test")).await, pems[1].der);

    let renamed = cert_for(&["two.test"]);
    write_pair(&dir, "n", &renamed);
    assert_eq!(tls.refresh(), 1);
    assert_eq!(served(server.addr, Some("two.test")).await, renamed.der);
    assert_eq!(served(server.addr, Some("one.test")).await, pems[0].der);
    let names: Vec<Vec<String>> = tls.certificates().into_iter().map(|c| c.names).collect();
    assert_eq!(
        names,
        vec![vec!["default.test".to_owned()], vec!["two.test".to_owned()]]
    );
}
