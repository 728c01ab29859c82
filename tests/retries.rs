//! Retries over real sockets: they hide a backend killed mid-run from idempotent
//! requests but never send a POST twice (not on a 503 nor on a timeout), and the retry
//! budget caps a failing cluster's load while a lone failing request still uses all
//! its attempts.
//!
//! Checks run every 100–200 ms so that a state change takes a fraction of a second;
//! every wait is bounded by [`WAIT`](sluicegate_testkit::WAIT), and time bounds carry a generous slack for busy
//! two-core machines (the helpers are in `sluicegate_tests::support::health`).

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use sluicegate_testkit::client::{self, request};
use sluicegate_testkit::{
    Backend, BackendState, Load, Proxy, WAIT, eventually, get, init_tracing, single_cluster,
    start_proxy,
};
use sluicegate_tests::support::health::{names, until_state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_retries_a_backend_killed_mid_run_costs_no_failed_request() {
    init_tracing();
    let (a, b, c) = (
        Backend::named("a"),
        Backend::named("b"),
        Backend::named("c"),
    );
    let b_addr = b.addr();
    // fall 3 every 200 ms: the dead backend stays eligible for at least ~360 ms, so
    // many requests meet it and only the retries keep them from failing.
    let keys = [
        (
            "health_check",
            "{type: tcp, interval: 200ms, timeout: 500ms, rise: 2, fall: 3}",
        ),
        ("retries", "{attempts: 2, backoff: 5ms}"),
    ];
    let proxy = start_proxy(&single_cluster(&[&a, &b, &c], &keys)).await;
    // Three clients: the default budget always allows min_concurrent (3) retries.
    let load = Load::start(&proxy, 3);
    assert!(
        eventually(WAIT, || b.served() >= 10).await,
        "no traffic reached b"
    );
    b.kill().await;
    let at_kill = load.ok();
    until_state(&proxy, b_addr, BackendState::Unhealthy).await;
    let while_dead = load.ok() - at_kill;
    // And some more with b out of rotation.
    load.run_for(30).await;
    load.stop_without_failures().await;
    assert!(
        while_dead >= 6,
        "only {while_dead} requests while b was dead but still eligible"
    );
    assert!(a.served() > 0 && c.served() > 0);
}

/// Sends `method path` with `body` through `proxy`; the status (`None` when the
/// exchange failed) and the response body.
async fn send(proxy: &Proxy, method: Method, path: &str, body: &[u8]) -> (Option<u16>, String) {
    let body = client::body(Full::new(Bytes::copy_from_slice(body)));
    match client::exchange(proxy.addr(), request(method, proxy.addr(), path, &[], body)).await {
        Ok((status, _, text)) => (Some(status.as_u16()), text),
        Err(e) => (None, e),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_never_sent_twice_but_idempotent_requests_are_retried() {
    init_tracing();
    let dead = Backend::hanging_up();
    let good = Backend::echo();
    let keys = [(
        "retries",
        "{attempts: 2, on: [connect_failure, reset, 502, 503, 504], backoff: 5ms}",
    )];
    let proxy = start_proxy(&single_cluster(&[&dead, &good], &keys)).await;

    // Round robin sends every other POST to the backend that hangs up after reading
    // it: those fail, and each reached it exactly once. Without a body a POST would
    // be cheap to replay: only its method forbids it.
    for body in [&b"order"[..], b""] {
        let (dead_before, good_before) = (dead.requests(), good.requests());
        let mut failed = 0;
        for _ in 0..4 {
            match send(&proxy, Method::POST, "/orders", body).await {
                (Some(200), text) => assert!(text.starts_with("POST /orders"), "{text}"),
                (Some(502), _) => failed += 1,
                other => panic!("POST answered {other:?}"),
            }
        }
        let sent_twice = "a POST was sent twice";
        assert_eq!(dead.requests() - dead_before, failed, "{sent_twice}");
        assert_eq!(good.requests() - good_before, 4 - failed, "{sent_twice}");
        assert!(failed >= 1, "no POST met the failing backend");
    }

    // A GET (no body) and a PUT with a small body are sent again, to the other one.
    let (dead_before, good_before) = (dead.requests(), good.requests());
    for _ in 0..3 {
        let (status, _, text) = get(proxy.addr(), "/items", &[]).await;
        assert_eq!(status, 200, "{text}");
        let body = "x".repeat(1024);
        let (status, text) = send(&proxy, Method::PUT, "/items/1", body.as_bytes()).await;
        assert_eq!(status, Some(200), "{text}");
        assert!(
            text.ends_with(&format!("\n\n{body}")),
            "the replayed body differs: {text}"
        );
    }
    assert!(
        dead.requests() > dead_before,
        "no request met the failing backend"
    );
    assert_eq!(good.requests() - good_before, 6);
    assert!(
        dead.request_lines()
            .iter()
            .all(|l| l == "POST /orders" || l == "GET /items" || l == "PUT /items/1"),
        "{:?}",
        dead.request_lines()
    );

    // A PUT whose body is over the 64 KiB replay buffer is streamed, so not retried.
    let (dead_before, good_before) = (dead.requests(), good.requests());
    let big = vec![b'y'; 100 * 1024];
    let mut failed = 0;
    for _ in 0..4 {
        match send(&proxy, Method::PUT, "/big", &big).await {
            (Some(200), _) => {}
            (_, _) => failed += 1,
        }
    }
    assert_eq!(
        dead.requests() - dead_before,
        failed,
        "a big PUT was sent twice"
    );
    assert_eq!(good.requests() - good_before, 4 - failed);
    assert!(failed >= 1, "no big PUT met the failing backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_answered_503_is_not_retried_but_a_get_is() {
    init_tracing();
    let (bad, switch) = Backend::switchable("bad");
    switch.set_status(503);
    let good = Backend::named("good");
    let keys = [("retries", "{attempts: 2, on: [503], backoff: 5ms}")];
    let proxy = start_proxy(&single_cluster(&[&bad, &good], &keys)).await;

    for body in [&b"order"[..], b""] {
        let before = bad.served();
        let mut refused = 0;
        for _ in 0..4 {
            match send(&proxy, Method::POST, "/orders", body).await {
                (Some(200), text) => assert_eq!(text, "good"),
                (Some(503), text) => {
                    assert_eq!(text, "bad", "the backend's own 503 is passed on");
                    refused += 1;
                }
                other => panic!("POST: {other:?}"),
            }
        }
        assert_eq!(bad.served() - before, refused, "a POST was sent twice");
        assert!(refused >= 1, "no POST met the failing backend");
    }

    let before = bad.served();
    assert!(names(&proxy, 4).await.iter().all(|n| n == "good"));
    assert!(bad.served() > before, "no GET met the failing backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_get_is_retried_but_a_timed_out_post_is_not() {
    init_tracing();
    let slow = Backend::slow(Duration::from_secs(3));
    let good = Backend::named("good");
    let keys = [
        ("response_timeout", "300ms"),
        ("retries", "{attempts: 1, on: [timeout], backoff: 5ms}"),
        // Without this the slow backend is skipped after its first timeout.
        ("unreachable", "{ejection: 0s}"),
    ];
    let proxy = start_proxy(&single_cluster(&[&slow, &good], &keys)).await;
    for body in [&b"order"[..], b""] {
        let before = slow.requests();
        let mut timed_out = 0;
        for _ in 0..3 {
            match send(&proxy, Method::POST, "/orders", body).await {
                (Some(200), text) => assert_eq!(text, "good"),
                (Some(504), _) => timed_out += 1,
                other => panic!("POST: {other:?}"),
            }
        }
        let sent = slow.requests() - before;
        assert_eq!(sent, timed_out, "a timed-out POST was sent again");
        assert!(timed_out >= 1, "no POST met the slow backend");
    }

    let before = slow.requests();
    assert!(names(&proxy, 3).await.iter().all(|n| n == "good"));
    assert!(slow.requests() > before, "no GET met the slow backend");
}

/// Sends `n` concurrent `GET /status/503` through `proxy`; every answer must be 503.
async fn concurrent_503s(proxy: &Proxy, n: usize) {
    let addr = proxy.addr();
    let clients: Vec<_> = (0..n)
        .map(|_| tokio::spawn(async move { get(addr, "/status/503", &[]).await }))
        .collect();
    for client in clients {
        let (status, _, body) = client
            .await
            .unwrap_or_else(|e| panic!("a client failed: {e}"));
        assert_eq!(status, 503, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_budget_caps_retries_when_every_backend_fails() {
    init_tracing();
    const N: usize = 12;
    // Every answer is a 503 after 300 ms, so the first tries of N concurrent requests
    // all fail together and their retries would overlap.
    let slow = || Backend::slow(Duration::from_millis(300));
    let (x, y, z) = (slow(), slow(), slow());
    let total = || x.requests() + y.requests() + z.requests();

    // A budget big enough for all: each request tries all three backends, one each.
    let keys = [(
        "retries",
        "{attempts: 2, on: [503], budget: 0%, min_concurrent: 100, backoff: 5ms}",
    )];
    let proxy = start_proxy(&single_cluster(&[&x, &y, &z], &keys)).await;
    concurrent_503s(&proxy, N).await;
    assert_eq!(total(), 3 * N);
    assert_eq!((x.requests(), y.requests(), z.requests()), (N, N, N));

    // One retry in flight at most: nearly every retry is refused.
    let keys = [(
        "retries",
        "{attempts: 2, on: [503], budget: 0%, min_concurrent: 1, backoff: 5ms}",
    )];
    proxy.apply(&single_cluster(&[&x, &y, &z], &keys)).await;
    let before = total();
    concurrent_503s(&proxy, N).await;
    let sent = total() - before;
    assert!(
        (N..N + N / 2).contains(&sent),
        "{N} requests reached the backends {sent} times"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_failing_request_uses_all_its_attempts_within_min_concurrent_1() {
    init_tracing();
    let (x, y, z) = (
        Backend::named("x"),
        Backend::named("y"),
        Backend::named("z"),
    );
    // No other request is in flight, so each retry is the only one: one slot suffices.
    let keys = [(
        "retries",
        "{attempts: 2, on: [503], budget: 0%, min_concurrent: 1, backoff: 5ms}",
    )];
    let proxy = start_proxy(&single_cluster(&[&x, &y, &z], &keys)).await;
    let (status, _, _) = get(proxy.addr(), "/status/503", &[]).await;
    assert_eq!(status, 503);
    assert_eq!(
        (x.requests(), y.requests(), z.requests()),
        (1, 1, 1),
        "1 try + 2 retries, each to another backend"
    );
}
