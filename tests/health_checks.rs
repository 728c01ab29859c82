//! Active health checks over real sockets: HTTP and TCP checks take a failing backend
//! out and bring it back, use connections of their own, send their method and path and
//! expect their statuses; a backend starting unhealthy waits for its rise passes; health
//! state survives a reload, and removing the check puts a backend back in rotation.
//!
//! Checks run every 100–200 ms so that a state change takes a fraction of a second;
//! every wait is bounded by [`WAIT`](sluicegate_testkit::WAIT), and time bounds carry a generous slack for busy
//! two-core machines (the helpers are in `sluicegate_tests::support::health`).

use std::time::{Duration, Instant};

use sluicegate_testkit::{
    Backend, BackendState, WAIT, eventually, get, init_tracing, single_cluster, start_proxy,
};
use sluicegate_tests::support::health::{
    APP, INTERVAL, at_least, at_most, check, last_check, names, until_served_by, until_state,
};

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
