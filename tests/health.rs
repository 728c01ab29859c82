//! Health over real sockets: active HTTP and TCP checks take a failing backend out and
//! bring it back, the outlier detector ejects and readmits, panic mode spreads over
//! every backend, retries hide a dead backend from idempotent requests but never send
//! a POST twice, the retry budget caps a failing cluster's load, and health state
//! survives a reload.
//!
//! Checks run every 100–200 ms so that a state change takes a fraction of a second;
//! every wait is bounded by [`WAIT`], and time bounds carry a generous slack for busy
//! two-core machines.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use sluicegate_testkit::client::{self, request};
use sluicegate_testkit::{
    Backend, BackendState, Load, Proxy, WAIT, eventually, eventually_async, get, init_tracing,
    single_cluster, start_proxy, try_get, within,
};

/// The cluster every test's config routes to.
const APP: &str = "app";
/// Interval of the fast checks most tests use.
const INTERVAL: Duration = Duration::from_millis(100);
/// Timeout of those checks.
const TIMEOUT: Duration = Duration::from_millis(500);
/// What a busy machine may add to a timed state change.
const SLACK: Duration = Duration::from_secs(2);

/// A `health_check` value: `kind` (`http` or `tcp`) every `interval_ms`, rise 2,
/// fall 2, default jitter (10%), plus `extra` keys (`, initial_state: unhealthy`).
fn check(kind: &str, interval_ms: u64, extra: &str) -> String {
    format!(
        "{{type: {kind}, interval: {interval_ms}ms, timeout: {}ms, rise: 2, fall: 2{extra}}}",
        TIMEOUT.as_millis()
    )
}

/// Longest time `checks` results in a row take to flip a backend: each check comes
/// within the interval plus 10% jitter and takes at most the timeout, plus [`SLACK`].
fn at_most(checks: u32, interval: Duration) -> Duration {
    interval.mul_f64(1.1) * checks + TIMEOUT + SLACK
}

/// Shortest time `checks` results in a row take: the first may come at once, then
/// each waits at least the interval less 10% jitter.
fn at_least(checks: u32, interval: Duration) -> Duration {
    interval.mul_f64(0.9) * (checks - 1)
}

/// Waits until the backend at `addr` is in `state`; returns how long that took.
/// Panics with the state it is in after [`WAIT`].
async fn until_state(proxy: &Proxy, addr: SocketAddr, state: BackendState) -> Duration {
    let started = Instant::now();
    let reached = eventually(WAIT, || proxy.backend_state(APP, addr) == state).await;
    let now = proxy.backend_state(APP, addr);
    assert!(reached, "{addr} is {now:?}, not {state:?}, after {WAIT:?}");
    started.elapsed()
}

/// Whether the last active check of `addr` passed, and what it saw.
fn last_check(proxy: &Proxy, addr: SocketAddr) -> Option<(bool, String)> {
    let snapshot = proxy.snapshot();
    let (_, backend) = snapshot.cluster(APP)?.backend(addr)?;
    backend.health().last_check().map(|c| (c.passed, c.detail))
}

/// Whether the cluster balances over every backend, healthy or not.
fn in_panic(proxy: &Proxy) -> bool {
    proxy.snapshot().cluster(APP).is_some_and(|c| c.in_panic())
}

/// Sends `GET /` `n` times and returns the names of the backends that answered;
/// every answer must be a 200.
async fn names(proxy: &Proxy, n: usize) -> Vec<String> {
    let mut names = Vec::with_capacity(n);
    for _ in 0..n {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        assert_eq!(status, 200, "body: {body}");
        names.push(body);
    }
    names
}

/// Sends `GET /` until backend `name` answers one (200); panics after [`WAIT`].
async fn until_served_by(proxy: &Proxy, name: &str) {
    let addr = proxy.addr();
    let served = eventually_async(WAIT, || async move {
        matches!(try_get(addr, "/", &[]).await, Ok((s, _, body)) if s == 200 && body == name)
    })
    .await;
    assert!(served, "{name} got no request within {WAIT:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_check_takes_a_failing_backend_out_and_brings_it_back_after_rise_passes() {
    init_tracing();
    let (a, switch) = Backend::switchable("a");
    let b = Backend::named("b");
    let spec = check("http", 100, "");
    let keys = [("health_check", spec.as_str())];
    let proxy = start_proxy(&single_cluster(&[&a, &b], &keys)).await;
    assert!(
        eventually(WAIT, || {
            last_check(&proxy, a.addr()).is_some() && b.health_checks() >= 1
        })
        .await,
        "no health check arrived"
    );
    assert_eq!(
        last_check(&proxy, a.addr()),
        Some((true, "status 200".into()))
    );
    let spread = names(&proxy, 4).await;
    assert!(spread.contains(&"a".into()) && spread.contains(&"b".into()));

    switch.set_health(503);
    let took = until_state(&proxy, a.addr(), BackendState::Unhealthy).await;
    assert!(took <= at_most(2, INTERVAL), "fall 2 took {took:?}");
    assert!(took >= at_least(2, INTERVAL), "fall 2 took only {took:?}");
    assert_eq!(
        last_check(&proxy, a.addr()),
        Some((false, "status 503".into()))
    );
    // `a` still serves `/`, but gets none of it while its checks fail.
    let served = a.served();
    assert!(names(&proxy, 10).await.iter().all(|n| n == "b"));
    assert_eq!(a.served(), served, "an unhealthy backend got traffic");

    switch.set_health(200);
    let took = until_state(&proxy, a.addr(), BackendState::Up).await;
    assert!(took <= at_most(2, INTERVAL), "rise 2 took {took:?}");
    assert!(took >= at_least(2, INTERVAL), "rise 2 took only {took:?}");
    until_served_by(&proxy, "a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_check_takes_a_killed_backend_out_and_brings_it_back_when_restarted() {
    init_tracing();
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let addr = a.addr();
    let spec = check("tcp", 100, "");
    let keys = [("health_check", spec.as_str())];
    let proxy = start_proxy(&single_cluster(&[&a, &b], &keys)).await;
    assert!(
        eventually(WAIT, || last_check(&proxy, addr).is_some()).await,
        "no check ran"
    );
    assert_eq!(last_check(&proxy, addr), Some((true, "connected".into())));
    assert_eq!(a.requests(), 0, "a TCP check sends no request");

    a.kill().await;
    let took = until_state(&proxy, addr, BackendState::Unhealthy).await;
    assert!(took <= at_most(2, INTERVAL), "fall 2 took {took:?}");
    let (passed, detail) = last_check(&proxy, addr).expect("a check ran");
    assert!(
        !passed && detail.contains("refused"),
        "last check: {detail}"
    );
    assert!(names(&proxy, 10).await.iter().all(|n| n == "b"));

    let restarted = Backend::named_on("a again", addr).await;
    let took = until_state(&proxy, addr, BackendState::Up).await;
    assert!(took <= at_most(2, INTERVAL), "rise 2 took {took:?}");
    assert!(took >= at_least(2, INTERVAL), "rise 2 took only {took:?}");
    until_served_by(&proxy, "a again").await;
    assert!(restarted.requests() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_use_connections_of_their_own_and_close_them_even_on_timeout() {
    init_tracing();
    let (a, _switch) = Backend::switchable("a");
    let silent = Backend::silent();
    let spec = "{type: http, interval: 100ms, timeout: 200ms, rise: 2, fall: 2}";
    let proxy = start_proxy(&single_cluster(&[&a, &silent], &[("health_check", spec)])).await;
    assert!(
        eventually(WAIT, || a.health_checks() >= 5 && silent.accepts() >= 5).await,
        "checks did not run"
    );
    // No client traffic: every connection `a` accepted was one check's, and closed.
    assert_eq!(a.served(), 0);
    let (accepts, checks) = (a.accepts(), a.health_checks());
    assert!(
        (checks..=checks + 1).contains(&accepts),
        "{accepts} connections for {checks} checks"
    );
    assert!(
        eventually(WAIT, || a.closed() >= checks).await,
        "check connections stay open"
    );

    // Checks of the silent backend time out; each one's connection is closed.
    until_state(&proxy, silent.addr(), BackendState::Unhealthy).await;
    let (passed, detail) = last_check(&proxy, silent.addr()).expect("a check ran");
    assert!(!passed && detail.contains("timed out"), "{detail}");
    assert!(
        eventually(WAIT, || silent.accepts() >= 6).await,
        "checks stopped"
    );
    let open = || silent.accepts() - silent.closed();
    assert!(
        eventually(Duration::from_secs(3), || open() <= 1).await,
        "{} of {} timed-out check connections are still open",
        open(),
        silent.accepts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_check_sends_its_method_and_path_and_expects_its_statuses() {
    init_tracing();
    let x = Backend::named("x");
    let spec = |expect: &str| {
        format!(
            "{{path: /status/204, method: HEAD, expect_status: [{expect}], interval: 100ms, \
             timeout: 500ms, rise: 2, fall: 2}}"
        )
    };
    let passes = spec("204");
    let proxy = start_proxy(&single_cluster(&[&x], &[("health_check", passes.as_str())])).await;
    assert!(
        eventually(WAIT, || last_check(&proxy, x.addr()).is_some()).await,
        "no check ran"
    );
    assert_eq!(
        last_check(&proxy, x.addr()),
        Some((true, "status 204".into()))
    );
    assert!(
        x.request_lines().iter().all(|l| l == "HEAD /status/204"),
        "{:?}",
        x.request_lines()
    );
    assert_eq!(proxy.backend_state(APP, x.addr()), BackendState::Up);

    // The same answer fails a check that expects 200 or 300 to 399.
    let fails = spec("200, 300-399");
    proxy
        .apply(&single_cluster(&[&x], &[("health_check", fails.as_str())]))
        .await;
    until_state(&proxy, x.addr(), BackendState::Unhealthy).await;
    assert_eq!(
        last_check(&proxy, x.addr()),
        Some((false, "status 204".into()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_health_check_puts_an_unhealthy_backend_back_in_rotation() {
    init_tracing();
    let (a, switch) = Backend::switchable("a");
    let b = Backend::named("b");
    let spec = check("http", 100, "");
    let proxy = start_proxy(&single_cluster(
        &[&a, &b],
        &[("health_check", spec.as_str())],
    ))
    .await;
    switch.set_health(503);
    until_state(&proxy, a.addr(), BackendState::Unhealthy).await;
    proxy.apply(&single_cluster(&[&a, &b], &[])).await;
    until_state(&proxy, a.addr(), BackendState::Up).await;
    until_served_by(&proxy, "a").await;
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlier_ejects_a_failing_backend_then_readmits_it() {
    init_tracing();
    let (bad, switch) = Backend::switchable("bad");
    let good = Backend::named("good");
    switch.set_status(500);
    let keys = [(
        "outlier",
        "{consecutive_failures: 3, base_ejection: 1s, max_ejection: 10s, max_ejected_percent: 50}",
    )];
    let proxy = start_proxy(&single_cluster(&[&bad, &good], &keys)).await;

    // The third 500 in a row ejects it, before that answer reaches the client.
    let mut failures = 0;
    for _ in 0..20 {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        match body.as_str() {
            "bad" => {
                assert_eq!(status, 500);
                failures += 1;
            }
            _ => assert_eq!((status.as_u16(), body.as_str()), (200, "good")),
        }
        if proxy.backend_state(APP, bad.addr()) == BackendState::Ejected {
            break;
        }
    }
    assert_eq!(proxy.backend_state(APP, bad.addr()), BackendState::Ejected);
    assert_eq!(failures, 3, "ejected after {failures} failures");
    let ejected = Instant::now();
    switch.set_status(200);

    // While ejected it gets nothing, though it would answer 200 now.
    let served = bad.served();
    let mut during = 0;
    for _ in 0..10 {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        if proxy.backend_state(APP, bad.addr()) != BackendState::Ejected {
            break;
        }
        assert_eq!((status.as_u16(), body.as_str()), (200, "good"));
        during += 1;
    }
    assert!(during > 0, "readmitted before any request was sent");
    assert_eq!(bad.served(), served, "an ejected backend got traffic");

    until_state(&proxy, bad.addr(), BackendState::Up).await;
    let took = ejected.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "readmitted after {took:?}"
    );
    assert!(
        took <= Duration::from_secs(1) + SLACK,
        "readmitted after {took:?}"
    );
    until_served_by(&proxy, "bad").await;
    let snapshot = proxy.snapshot();
    let (_, backend) = snapshot.cluster(APP).unwrap().backend(bad.addr()).unwrap();
    assert_eq!(backend.health().ejections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlier_never_ejects_more_than_max_ejected_percent() {
    init_tracing();
    let backends: Vec<_> = ["x", "y", "z"]
        .map(Backend::switchable)
        .into_iter()
        .collect();
    for (_, switch) in &backends {
        switch.set_status(500);
    }
    let keys = [(
        "outlier",
        "{consecutive_failures: 2, base_ejection: 30s, max_ejected_percent: 50}",
    )];
    let refs: Vec<&Backend> = backends.iter().map(|(b, _)| b).collect();
    let proxy = start_proxy(&single_cluster(&refs, &keys)).await;
    for _ in 0..30 {
        let (status, _, _) = get(proxy.addr(), "/", &[]).await;
        assert_eq!(status, 500);
    }
    let states: Vec<BackendState> = refs
        .iter()
        .map(|b| proxy.backend_state(APP, b.addr()))
        .collect();
    let ejected = states
        .iter()
        .filter(|s| **s == BackendState::Ejected)
        .count();
    assert_eq!(
        ejected, 1,
        "1 of 3 is within 50%, 2 of 3 are not: {states:?}"
    );
    // The two left in rotation took every later failure.
    assert!(
        refs.iter()
            .filter(|b| proxy.backend_state(APP, b.addr()) == BackendState::Up)
            .all(|b| b.served() >= 10)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_backends_unhealthy_without_panic_mode_is_503_no_healthy_backend() {
    init_tracing();
    let (x, y) = (Backend::refusing(), Backend::refusing());
    let spec = check("tcp", 100, "");
    let keys = [("health_check", spec.as_str())];
    let proxy = start_proxy(&single_cluster(&[&x, &y], &keys)).await;
    until_state(&proxy, x.addr(), BackendState::Unhealthy).await;
    until_state(&proxy, y.addr(), BackendState::Unhealthy).await;
    assert!(!in_panic(&proxy));
    let (status, headers, body) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(status, 503, "body: {body}");
    assert!(
        body.contains("no healthy backend in cluster \"app\""),
        "body: {body:?}"
    );
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_mode_spreads_over_every_backend_when_too_few_are_healthy() {
    init_tracing();
    let (a, switch_a) = Backend::switchable("a");
    let (b, switch_b) = Backend::switchable("b");
    let (c, _switch_c) = Backend::switchable("c");
    let spec = check("http", 100, "");
    let keys = [("health_check", spec.as_str()), ("panic_threshold", "50%")];
    let proxy = start_proxy(&single_cluster(&[&a, &b, &c], &keys)).await;

    // One of three unhealthy: 2/3 healthy is not below 50%, so no panic.
    switch_a.set_health(503);
    until_state(&proxy, a.addr(), BackendState::Unhealthy).await;
    assert!(!in_panic(&proxy));
    let served = names(&proxy, 12).await;
    assert!(!served.contains(&"a".into()), "{served:?}");
    assert!(served.contains(&"b".into()) && served.contains(&"c".into()));

    // Two of three: 1/3 healthy is below 50%: every backend gets traffic again, the
    // unhealthy ones still answering `/`.
    switch_b.set_health(503);
    until_state(&proxy, b.addr(), BackendState::Unhealthy).await;
    assert!(in_panic(&proxy));
    let served = names(&proxy, 30).await;
    for name in ["a", "b", "c"] {
        assert!(
            served.contains(&name.into()),
            "{name} got nothing: {served:?}"
        );
    }

    // Back to two healthy: panic mode ends, the unhealthy one is left out again.
    switch_b.set_health(200);
    until_state(&proxy, b.addr(), BackendState::Up).await;
    assert!(!in_panic(&proxy));
    let served = names(&proxy, 12).await;
    assert!(!served.contains(&"a".into()), "{served:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_mode_never_picks_a_drained_backend() {
    init_tracing();
    let (a, _switch_a) = Backend::switchable("a");
    let (b, switch_b) = Backend::switchable("b");
    let (c, switch_c) = Backend::switchable("c");
    let spec = check("http", 100, "");
    let keys = [("health_check", spec.as_str()), ("panic_threshold", "50%")];
    let proxy = start_proxy(&single_cluster(&[&a, &b, &c], &keys)).await;
    let cluster = proxy.snapshot().cluster(APP).cloned().expect("cluster app");
    assert_eq!(cluster.set_drained(a.addr(), true), Some(false));
    assert_eq!(proxy.backend_state(APP, a.addr()), BackendState::Drained);

    // Drained backends do not count: 1 of the 2 others healthy is not below 50%.
    switch_b.set_health(503);
    until_state(&proxy, b.addr(), BackendState::Unhealthy).await;
    assert!(!in_panic(&proxy));
    assert!(names(&proxy, 10).await.iter().all(|n| n == "c"));

    // None of the two healthy: panic spreads over both, never over the drained one.
    switch_c.set_health(503);
    until_state(&proxy, c.addr(), BackendState::Unhealthy).await;
    assert!(in_panic(&proxy));
    let served = names(&proxy, 20).await;
    assert!(!served.contains(&"a".into()), "{served:?}");
    assert!(served.contains(&"b".into()) && served.contains(&"c".into()));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_state_survives_a_reload_and_a_changed_check() {
    init_tracing();
    let (a, switch) = Backend::switchable("a");
    let (b, c) = (Backend::named("b"), Backend::named("c"));
    let fast = check("http", 100, "");
    let proxy = start_proxy(&single_cluster(
        &[&a, &b],
        &[("health_check", fast.as_str())],
    ))
    .await;
    switch.set_health(503);
    until_state(&proxy, a.addr(), BackendState::Unhealthy).await;

    // Same check, one more backend: `a` keeps its cell, so it is unhealthy at once (a
    // fresh cell would be healthy until two checks failed).
    let generation = proxy.generation();
    proxy
        .apply(&single_cluster(
            &[&a, &b, &c],
            &[("health_check", fast.as_str())],
        ))
        .await;
    assert_eq!(proxy.generation(), generation + 1);
    assert_eq!(proxy.backend_state(APP, a.addr()), BackendState::Unhealthy);
    assert_eq!(
        last_check(&proxy, a.addr()),
        Some((false, "status 503".into()))
    );
    let served = a.served();
    let spread = names(&proxy, 9).await;
    assert!(!spread.contains(&"a".into()), "{spread:?}");
    assert!(spread.contains(&"c".into()), "{spread:?}");

    // A changed check restarts the checker from the cell's state: still unhealthy.
    let slower = check("http", 150, "");
    proxy
        .apply(&single_cluster(
            &[&a, &b, &c],
            &[("health_check", slower.as_str())],
        ))
        .await;
    assert_eq!(proxy.backend_state(APP, a.addr()), BackendState::Unhealthy);
    assert!(!names(&proxy, 6).await.contains(&"a".into()));
    assert_eq!(a.served(), served, "an unhealthy backend got traffic");

    switch.set_health(200);
    let took = until_state(&proxy, a.addr(), BackendState::Up).await;
    let interval = Duration::from_millis(150);
    assert!(took >= at_least(2, interval), "rise 2 took only {took:?}");
    until_served_by(&proxy, "a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn initial_state_unhealthy_backends_wait_for_rise_passes() {
    init_tracing();
    let interval = Duration::from_millis(200);
    let spec =
        "{type: http, interval: 200ms, timeout: 500ms, rise: 3, fall: 2, initial_state: unhealthy}";
    let keys = [("health_check", spec)];
    let b = Backend::named("b");
    let started = Instant::now();
    let proxy = start_proxy(&single_cluster(&[&b], &keys)).await;

    // At start every backend is new: 503 until three checks have passed.
    let mut refused = 0;
    while proxy.backend_state(APP, b.addr()) == BackendState::Unhealthy {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        if proxy.backend_state(APP, b.addr()) == BackendState::Unhealthy {
            assert_eq!(status, 503, "{body}");
            assert!(
                body.contains("no healthy backend in cluster \"app\""),
                "{body}"
            );
            refused += 1;
        }
        assert!(started.elapsed() < WAIT, "b never came up");
        if refused >= 3 {
            break;
        }
    }
    assert!(refused >= 1, "b came up before any request");
    until_state(&proxy, b.addr(), BackendState::Up).await;
    let took = started.elapsed();
    assert!(took >= at_least(3, interval), "rise 3 took only {took:?}");
    assert_eq!(b.served(), 0);
    assert_eq!(names(&proxy, 2).await, ["b", "b"]);

    // A backend added by a reload waits too; `b`, kept, stays up.
    let (a, _switch) = Backend::switchable("a");
    let reloaded = Instant::now();
    proxy.apply(&single_cluster(&[&b, &a], &keys)).await;
    assert_eq!(proxy.backend_state(APP, b.addr()), BackendState::Up);
    let mut while_out = 0;
    while reloaded.elapsed() < WAIT {
        let (status, _, name) = get(proxy.addr(), "/", &[]).await;
        assert_eq!(status, 200, "{name}");
        if proxy.backend_state(APP, a.addr()) != BackendState::Unhealthy {
            break;
        }
        assert_eq!(name, "b", "a new backend got traffic before rise passes");
        while_out += 1;
        if while_out >= 5 {
            break;
        }
    }
    assert!(while_out >= 1, "a came up before any request");
    until_state(&proxy, a.addr(), BackendState::Up).await;
    let took = reloaded.elapsed();
    assert!(took >= at_least(3, interval), "rise 3 took only {took:?}");
    until_served_by(&proxy, "a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_aborts_its_upload_does_not_get_the_backend_ejected() {
    use tokio::io::AsyncWriteExt;
    init_tracing();
    let backend = Backend::sink();
    let proxy = start_proxy(&single_cluster(
        &[&backend],
        &[
            (
                "outlier",
                "{consecutive_failures: 1, base_ejection: 1h, max_ejected_percent: 100}",
            ),
            ("retries", "{attempts: 2}"),
        ],
    ))
    .await;
    for sent in 1..=3 {
        let mut stream = within(
            WAIT,
            "connecting",
            tokio::net::TcpStream::connect(proxy.addr()),
        )
        .await
        .unwrap();
        let head = "POST /upload HTTP/1.1\r\nhost: app\r\ncontent-length: 100000\r\n\r\n";
        within(WAIT, "writing", stream.write_all(head.as_bytes()))
            .await
            .unwrap();
        within(WAIT, "writing", stream.write_all(&[b'x'; 1000]))
            .await
            .unwrap();
        assert!(
            eventually(WAIT, || backend.requests() == sent).await,
            "the upload reached the backend"
        );
        drop(stream);
        let snapshot = proxy.snapshot();
        let cluster = snapshot.cluster(APP).unwrap();
        assert!(
            eventually(WAIT, || cluster.in_flight() == 0).await,
            "the aborted exchange ended"
        );
    }
    assert_eq!(proxy.backend_state(APP, backend.addr()), BackendState::Up);
    let snapshot = proxy.snapshot();
    let (_, failures) = snapshot.cluster(APP).unwrap().backends[0].outcomes();
    assert_eq!(
        failures, 0,
        "the client's abort is not the backend's failure"
    );
    assert_eq!(backend.requests(), 3, "an aborted upload is not retried");
    let (status, _, _) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(status, 200);
}
