//! Helpers of the health test files (`health_checks`, `health_transport`, `outlier`,
//! `panic_mode`, `retries`): the cluster they route to, the fast check they use, the
//! time bounds of a state change, and waits on a backend's state or on who serves.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sluicegate_testkit::{BackendState, Proxy, WAIT, eventually, eventually_async, get, try_get};

/// The cluster every test's config routes to.
pub const APP: &str = "app";
/// Interval of the fast checks most tests use.
pub const INTERVAL: Duration = Duration::from_millis(100);
/// Timeout of those checks.
pub const TIMEOUT: Duration = Duration::from_millis(500);
/// What a busy machine may add to a timed state change.
pub const SLACK: Duration = Duration::from_secs(2);

/// A `health_check` value: `kind` (`http` or `tcp`) every `interval_ms`, rise 2,
/// fall 2, default jitter (10%), plus `extra` keys (`, initial_state: unhealthy`).
pub fn check(kind: &str, interval_ms: u64, extra: &str) -> String {
    format!(
        "{{type: {kind}, interval: {interval_ms}ms, timeout: {}ms, rise: 2, fall: 2{extra}}}",
        TIMEOUT.as_millis()
    )
}

/// Longest time `checks` results in a row take to flip a backend: each check comes
/// within the interval plus 10% jitter and takes at most the timeout, plus [`SLACK`].
pub fn at_most(checks: u32, interval: Duration) -> Duration {
    interval.mul_f64(1.1) * checks + TIMEOUT + SLACK
}

/// Shortest time `checks` results in a row take: the first may come at once, then
/// each waits at least the interval less 10% jitter.
pub fn at_least(checks: u32, interval: Duration) -> Duration {
    interval.mul_f64(0.9) * (checks - 1)
}

/// Waits until the backend at `addr` is in `state`; returns how long that took.
/// Panics with the state it is in after [`WAIT`].
pub async fn until_state(proxy: &Proxy, addr: SocketAddr, state: BackendState) -> Duration {
    let started = Instant::now();
    let reached = eventually(WAIT, || proxy.backend_state(APP, addr) == state).await;
    let now = proxy.backend_state(APP, addr);
    assert!(reached, "{addr} is {now:?}, not {state:?}, after {WAIT:?}");
    started.elapsed()
}

/// Whether the last active check of `addr` passed, and what it saw.
pub fn last_check(proxy: &Proxy, addr: SocketAddr) -> Option<(bool, String)> {
    let snapshot = proxy.snapshot();
    let (_, backend) = snapshot.cluster(APP)?.backend(addr)?;
    backend.health().last_check().map(|c| (c.passed, c.detail))
}

/// Whether the cluster balances over every backend, healthy or not.
pub fn in_panic(proxy: &Proxy) -> bool {
    proxy.snapshot().cluster(APP).is_some_and(|c| c.in_panic())
}

/// Sends `GET /` `n` times and returns the names of the backends that answered;
/// every answer must be a 200.
pub async fn names(proxy: &Proxy, n: usize) -> Vec<String> {
    let mut names = Vec::with_capacity(n);
    for _ in 0..n {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        assert_eq!(status, 200, "body: {body}");
        names.push(body);
    }
    names
}

/// Sends `GET /` until backend `name` answers one (200); panics after [`WAIT`].
pub async fn until_served_by(proxy: &Proxy, name: &str) {
    let addr = proxy.addr();
    let served = eventually_async(WAIT, || async move {
        matches!(try_get(addr, "/", &[]).await, Ok((s, _, body)) if s == 200 && body == name)
    })
    .await;
    assert!(served, "{name} got no request within {WAIT:?}");
}
