//! Routes' `rate_limit`: token buckets per key (a header, the client's address, or the
//! whole route); a request finding its bucket empty gets 429 with `Retry-After` and
//! `RateLimit-*`, and never reaches a backend; other keys and routes are untouched;
//! a reload keeps the buckets of a limit it does not change.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use sluicegate_testkit::{Backend, get, init_tracing, start_proxy};

/// Listener `main` with a route `/limited` carrying `limit` and a route for the rest,
/// both to `backend`.
fn yaml(backend: &Backend, limit: &str) -> String {
    format!(
        "drain_timeout: 10s\nlisteners:\n  main:\n    address: 127.0.0.1:0\n    routes:\n      - match: {{ path_prefix: /limited }}\n        cluster: app\n        rate_limit: {limit}\n      - cluster: app\nclusters:\n  app:\n    backends:\n      - address: {}\n",
        backend.addr()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_past_its_burst_gets_429_while_other_keys_and_routes_pass() {
    init_tracing();
    let backend = Backend::named("app");
    // One token a second: the test's few requests cannot wait for a refill.
    let proxy = start_proxy(&yaml(
        &backend,
        "{ requests_per_second: 1, burst: 2, key: { header: x-user } }",
    ))
    .await;
    let addr = proxy.addr();
    for _ in 0..2 {
        assert_eq!(get(addr, "/limited", &[("x-user", "a")]).await.0, 200);
    }
    let (status, headers, body) = get(addr, "/limited", &[("x-user", "a")]).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body,
        "429 Too Many Requests: rate limit of 1 requests a second exceeded\n"
    );
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(headers["ratelimit-limit"], "1");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert_eq!(headers["ratelimit-reset"], "1");
    // Another key, no key, another route: untouched.
    assert_eq!(get(addr, "/limited", &[("x-user", "b")]).await.0, 200);
    for _ in 0..4 {
        assert_eq!(get(addr, "/limited", &[]).await.0, 200);
        assert_eq!(get(addr, "/other", &[("x-user", "a")]).await.0, 200);
    }
    assert_eq!(
        backend.requests(),
        2 + 1 + 8,
        "a refused request reached the backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_address_and_the_route_are_keys_too() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&yaml(&backend, "{ requests_per_second: 1, burst: 1 }")).await;
    let addr = proxy.addr();
    assert_eq!(get(addr, "/limited", &[]).await.0, 200);
    // The default key is the client's address, whatever header it sends.
    assert_eq!(get(addr, "/limited", &[("x-user", "z")]).await.0, 429);
    let proxy = start_proxy(&yaml(
        &backend,
        "{ requests_per_second: 1, burst: 1, key: route }",
    ))
    .await;
    let addr = proxy.addr();
    assert_eq!(get(addr, "/limited/a", &[]).await.0, 200);
    assert_eq!(get(addr, "/limited/b", &[]).await.0, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_buckets_of_an_unchanged_limit() {
    init_tracing();
    let backend = Backend::named("app");
    let limit = "{ requests_per_second: 1, burst: 1, key: route }";
    let proxy = start_proxy(&yaml(&backend, limit)).await;
    let addr = proxy.addr();
    assert_eq!(get(addr, "/limited", &[]).await.0, 200);
    assert_eq!(get(addr, "/limited", &[]).await.0, 429);
    // The same limit after a reload: still empty (a reload is no way around it).
    proxy
        .apply(&yaml(&backend, limit).replace("drain_timeout: 10s", "drain_timeout: 11s"))
        .await;
    assert_eq!(get(addr, "/limited", &[]).await.0, 429);
    // A changed limit starts full.
    proxy
        .apply(&yaml(
            &backend,
            "{ requests_per_second: 1, burst: 3, key: route }",
        ))
        .await;
    assert_eq!(get(addr, "/limited", &[]).await.0, 200);
}
