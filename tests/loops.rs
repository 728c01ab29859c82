//! A request that comes back to the process it passed through stops: a cluster whose
//! backend is sluicegate's own listener (a plain config mistake) answers 508 after a
//! few hops instead of multiplying connections until the response timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::time::Duration;

use sluicegate_testkit::{Backend, Echoed, get, init_tracing, single_cluster, start_proxy, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_pointing_at_its_own_listener_answers_508() {
    init_tracing();
    let placeholder = Backend::named("first");
    let proxy = start_proxy(&single_cluster(&[&placeholder], &[])).await;
    let own = proxy.addr();
    // Now the cluster's only backend is the listener itself.
    let looped = single_cluster(&[&placeholder], &[])
        .replace(&placeholder.addr().to_string(), &own.to_string());
    proxy.apply(&looped).await;
    let (status, _, body) = within(
        Duration::from_secs(5),
        "a looping request",
        get(own, "/", &[]),
    )
    .await;
    assert_eq!(status, 508, "{body}");
    assert!(body.contains("loop"), "{body:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_a_via_entry_and_keep_the_ones_before() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let (_, _, text) = get(proxy.addr(), "/", &[("via", "1.1 edge")]).await;
    let via = Echoed::parse(&text).one("via").to_owned();
    let (first, ours) = via.split_once(", ").unwrap_or_else(|| panic!("{via}"));
    assert_eq!(first, "1.1 edge");
    assert!(ours.starts_with("1.1 sluicegate-"), "{via}");
}
