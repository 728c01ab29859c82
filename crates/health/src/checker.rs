//! The checker task of one backend: probe, count with [`Hysteresis`], flip the cell,
//! log each flip once with its reason (a failed TLS handshake's among them), count the
//! metrics. It runs until aborted (the supervisor aborts it when the backend leaves
//! the config or its check or transport changes).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sluicegate_metrics::HealthSeries;

use crate::{Check, CheckRecord, HealthCell, Hysteresis, Transport, probe};

/// `interval` spread by `±jitter_percent%`, with `unit` uniform in `[0, 1)`.
pub fn jittered(interval: Duration, jitter_percent: u8, unit: f64) -> Duration {
    let spread = f64::from(jitter_percent.min(100)) / 100.0;
    interval.mul_f64((1.0 - spread + 2.0 * spread * unit.clamp(0.0, 1.0)).max(0.0))
}

/// Checks backend `address` (named `name` in logs) over `transport` forever. Starts
/// from the cell's state, so a task restarted by a reload keeps it.
pub async fn run_checker(
    address: SocketAddr,
    name: String,
    check: Arc<Check>,
    transport: Transport,
    cell: Arc<HealthCell>,
    series: HealthSeries,
) {
    let probe_check = check.clone();
    check_loop(&name, &check, &cell, &series, move || {
        let check = probe_check.clone();
        let transport = transport.clone();
        async move { probe(address, &transport, &check.probe, check.timeout).await }
    })
    .await;
}

/// The loop, with the probe passed in (tests script it under a paused clock).
pub(crate) async fn check_loop<F, Fut>(
    name: &str,
    check: &Check,
    cell: &HealthCell,
    series: &HealthSeries,
    mut probe: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<String, String>>,
{
    let mut state = Hysteresis::new(check.rise, check.fall, !cell.is_unhealthy());
    // The first check comes within one jitter spread, so new backends are checked
    // soon but a fleet of them is not probed in the same instant.
    let first = check
        .interval
        .mul_f64(f64::from(check.jitter_percent.min(100)) / 100.0 * fastrand::f64());
    tokio::time::sleep(first).await;
    loop {
        let result = probe().await;
        let passed = result.is_ok();
        let detail = match result {
            Ok(detail) | Err(detail) => detail,
        };
        series.check(passed);
        if passed && cell.reachable_again() {
            series.changed(true);
            tracing::info!(
                backend = name,
                "backend answers its check again: back in rotation"
            );
        }
        if let Some(healthy) = state.record(passed) {
            cell.set_unhealthy(!healthy);
            series.changed(healthy);
            if healthy {
                tracing::info!(
                    backend = name,
                    "backend is healthy again: {} checks passed in a row ({detail})",
                    check.rise
                );
            } else {
                tracing::warn!(
                    backend = name,
                    "backend is unhealthy: {} checks failed in a row, last: {detail}",
                    check.fall
                );
            }
        }
        cell.record_check(CheckRecord {
            passed,
            detail,
            at: SystemTime::now(),
        });
        tokio::time::sleep(jittered(
            check.interval,
            check.jitter_percent,
            fastrand::f64(),
        ))
        .await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use tokio::time::Instant;

    use super::*;
    use crate::Probe;

    fn check(jitter_percent: u8) -> Check {
        Check {
            probe: Probe::Tcp,
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            rise: 2,
            fall: 3,
            jitter_percent,
        }
    }

    /// Runs the loop with scripted results until the script ends; returns the
    /// instants of the checks and the cell's eligibility after each.
    async fn scripted(check: &Check, cell: &HealthCell, script: &[bool]) -> Vec<(Instant, bool)> {
        let script = Mutex::new(script.iter().copied().collect::<VecDeque<_>>());
        let seen: Mutex<Vec<(Instant, bool)>> = Mutex::new(Vec::new());
        let series = HealthSeries::noop();
        let looped = check_loop("test", check, cell, &series, || {
            let next = script.lock().unwrap().pop_front();
            if let Some(last) = seen.lock().unwrap().last_mut() {
                last.1 = cell.is_eligible();
            }
            seen.lock().unwrap().push((Instant::now(), true));
            async move {
                match next {
                    Some(true) => Ok("status 200".to_owned()),
                    Some(false) => Err("status 503".to_owned()),
                    None => std::future::pending().await,
                }
            }
        });
        let _ = tokio::time::timeout(Duration::from_secs(3600), looped).await;
        let mut seen = seen.into_inner().unwrap();
        seen.pop(); // The call that found the script empty.
        seen
    }

    #[tokio::test(start_paused = true)]
    async fn flips_after_fall_failures_and_back_after_rise_passes() {
        let cell = HealthCell::new(true);
        let seen = scripted(
            &check(0),
            &cell,
            &[true, false, false, false, false, true, true],
        )
        .await;
        let eligible: Vec<bool> = seen.iter().map(|s| s.1).collect();
        assert_eq!(eligible, [true, true, true, false, false, false, true]);
        let last = cell.last_check().unwrap();
        assert!(last.passed && last.detail == "status 200", "{last:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn keeps_the_state_it_starts_from() {
        let cell = HealthCell::new(false);
        let seen = scripted(&check(0), &cell, &[true]).await;
        assert_eq!(seen.len(), 1);
        assert!(
            !cell.is_eligible(),
            "one pass of rise 2 leaves it unhealthy"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waits_the_interval_within_the_jitter_bounds() {
        let cell = HealthCell::new(true);
        let seen = scripted(&check(10), &cell, &[true; 40]).await;
        assert_eq!(seen.len(), 40);
        let start = seen[0].0;
        assert!(start.elapsed() > Duration::ZERO);
        let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].0 - w[0].0).collect();
        for gap in &gaps {
            assert!(
                (Duration::from_millis(1800)..=Duration::from_millis(2200)).contains(gap),
                "{gap:?}"
            );
        }
        assert!(
            gaps.iter().any(|g| *g != gaps[0]),
            "jitter spreads the waits: {gaps:?}"
        );
        let exact = scripted(&check(0), &HealthCell::new(true), &[true; 5]).await;
        for w in exact.windows(2) {
            assert_eq!(w[1].0 - w[0].0, Duration::from_secs(2));
        }
    }

    #[test]
    fn jitter_bounds() {
        let i = Duration::from_secs(10);
        assert_eq!(jittered(i, 10, 0.0), Duration::from_secs(9));
        assert_eq!(jittered(i, 10, 0.5), i);
        assert!(jittered(i, 10, 0.999_999) <= Duration::from_secs(11));
        assert_eq!(jittered(i, 0, 0.7), i);
    }
}
