//! Bounded waiting: the one timeout every network wait gets (and the longer ones of
//! the process-level tests), polling with a deadline (async, and blocking for tests
//! without a runtime), and log output for tests.

use std::future::Future;
use std::sync::Once;
use std::time::{Duration, Instant};

/// The bound on any single network wait in a test. Generous, because tests run in
/// debug builds on busy two-core machines; a healthy wait takes milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// How often [`eventually`] re-checks its condition: short enough not to slow tests
/// down, long enough not to steal a busy machine's CPU from the code under test.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// The bound on the waits of the process-level tests: a `sluicegate` process starting
/// or exiting, a [`crate::blocking`] exchange with it. Twice [`WAIT`]: a debug-built
/// process on a busy machine starts slower than an in-process task.
pub const PROCESS_WAIT: Duration = Duration::from_secs(20);

/// The bound on a saved config being applied by a `sluicegate` process: the target is
/// 2 s; the slack absorbs a busy CI machine.
pub const APPLIED: Duration = Duration::from_secs(6);

/// How often [`poll`] re-checks its condition: longer than [`POLL_INTERVAL`], since a
/// check of a process-level test is often a request to the process or a scrape.
const BLOCKING_POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Installs a `tracing` subscriber that honours `RUST_LOG` and writes through the test
/// harness (so output shows only for failing tests). Safe to call from every test.
pub fn init_tracing() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    });
}

/// Polls `condition` until it holds or `deadline` passes; returns whether it held.
/// Use it to synchronise on an observable state instead of sleeping a fixed time.
pub async fn eventually(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    eventually_async(deadline, || std::future::ready(condition())).await
}

/// The blocking counterpart of [`eventually`], for tests without a tokio runtime:
/// checks `condition` on this thread until it holds or `deadline` passes, then once
/// more; returns whether it held. Each check should be bounded.
pub fn poll(deadline: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if condition() {
            return true;
        }
        std::thread::sleep(BLOCKING_POLL_INTERVAL);
    }
    condition()
}

/// Like [`eventually`], for a condition that must itself await (a connect attempt, a
/// request). Each check should be bounded; the deadline is checked between checks.
pub async fn eventually_async<F, Fut>(deadline: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let polling = async {
        loop {
            if condition().await {
                return;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    };
    tokio::time::timeout(deadline, polling).await.is_ok()
}

/// Awaits `future` for at most `limit`, panicking with `what` if it takes longer: the
/// one way test helpers bound a network wait.
pub async fn within<T>(limit: Duration, what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {limit:?}: {what}"),
    }
}
