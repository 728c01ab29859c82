//! A backend at its `max_connections`: requests wait in a bounded line in front of
//! it (`max_pending`, `queue_timeout`); past either they are answered 503 with
//! `Retry-After`, or sent to another backend that has room, without the saturated
//! one being held as failing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::time::Duration;

use sluicegate_testkit::client::get;
use sluicegate_testkit::{
    Backend, BackendState, WAIT, eventually, init_tracing, single_cluster, start_proxy,
};
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_pending_a_request_is_answered_503_at_once() {
    init_tracing();
    let slow = Backend::slow(Duration::from_millis(1500));
    let keys = [("max_connections", "1"), ("max_pending", "1")];
    let proxy = start_proxy(&single_cluster(&[&slow], &keys)).await;
    let addr = proxy.addr();
    let first = tokio::spawn(async move { get(addr, "/a", &[]).await });
    assert!(eventually(WAIT, || slow.requests() == 1).await);
    let second = tokio::spawn(async move { get(addr, "/b", &[]).await });
    // The second waits in line; the third finds the line full.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let (status, headers, body) = get(addr, "/c", &[]).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "the third waited"
    );
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    assert_eq!(
        body,
        "503 Service Unavailable: the backends of cluster \"app\" are at their connection limit (queue full)\n"
    );
    // Those in line are served, in order.
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(second.await.unwrap().0, 200);
    assert_eq!(slow.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_waits_the_whole_queue_timeout_is_answered_503() {
    init_tracing();
    let slow = Backend::slow(Duration::from_millis(2000));
    let keys = [("max_connections", "1"), ("queue_timeout", "300ms")];
    let proxy = start_proxy(&single_cluster(&[&slow], &keys)).await;
    let addr = proxy.addr();
    let first = tokio::spawn(async move { get(addr, "/a", &[]).await });
    assert!(eventually(WAIT, || slow.requests() == 1).await);
    let started = Instant::now();
    let (status, headers, body) = get(addr, "/b", &[]).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("(queue timeout)"), "{body}");
    assert!(headers.contains_key("retry-after"));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(first.await.unwrap().0, 200);
    assert_eq!(
        slow.requests(),
        1,
        "the timed-out request reached the backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturated_backend_is_passed_over_for_one_with_room() {
    init_tracing();
    let slow = Backend::slow(Duration::from_millis(3000));
    let fast = Backend::named("fast");
    let keys = [("max_connections", "1"), ("max_pending", "0")];
    let yaml = single_cluster(&[&slow, &fast], &keys);
    let proxy = start_proxy(&yaml).await;
    let addr = proxy.addr();
    // Round robin: the first request holds the slow backend's one connection.
    let held = tokio::spawn(async move { get(addr, "/held", &[]).await });
    assert!(eventually(WAIT, || slow.requests() == 1).await);
    for n in 0..6 {
        let (status, _, body) = get(addr, &format!("/r{n}"), &[]).await;
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (200, "fast"),
            "request {n}"
        );
    }
    assert_eq!(slow.requests(), 1);
    assert_eq!(held.await.unwrap().0, 200);
    // Being full is not failing: the slow backend is still in rotation.
    assert_eq!(proxy.backend_state("app", slow.addr()), BackendState::Up);
}
