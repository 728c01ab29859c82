//! Quick passive ejection: one connect failure or response timeout takes a backend out
//! of new picks at once, for a short time that doubles while it keeps failing (nginx's
//! `max_fails=1 fail_timeout`, which sends the next request elsewhere instead of
//! waiting for `fall` active checks). When the time is up the backend is on probation
//! (a half-open circuit breaker): one request at a time may try it, and its first
//! success brings it back fully, while a failure marks it again for twice as long. A
//! passing check ends a mark or a probation at once and resets the doubling.
//!
//! Unlike [`crate::Outlier`] ejection it needs no configuration and no run of failures:
//! a refused connection is certain, and skipping the backend costs nothing while
//! another one answers. The caller keeps at least one backend of the cluster
//! eligible, so when all are down requests still go somewhere and fail fast.

use std::sync::Arc;
use std::time::Duration;

use sluicegate_metrics::HealthSeries;

use crate::HealthCell;

/// Quick-ejection parameters of one cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreachable {
    /// Length of a first mark.
    pub base: Duration,
    /// Longest mark.
    pub max: Duration,
    /// The cluster checks its backends: a mark then lasts until a check passes (the
    /// check is the probe), and no client request is spent on probing.
    pub until_check_passes: bool,
}

/// Marks `cell` unreachable now (unless it is already) and ends the mark when its time
/// is up, in a task of its own. Logs and counts both. Needs a tokio runtime.
pub fn mark_unreachable(
    cell: &Arc<HealthCell>,
    params: Unreachable,
    name: String,
    why: &str,
    series: HealthSeries,
) -> Option<Duration> {
    let (id, length) = cell.mark_unreachable(params.base, params.max)?;
    series.ejected();
    series.changed(false);
    // With checks the mark ends at the first passing check, or at `max` should no
    // check run any more (a reload removed them): a mark never outlives its timer.
    let length = if params.until_check_passes {
        tracing::warn!(
            backend = name,
            "backend skipped until its check passes (at most {:?}): {why}",
            params.max
        );
        params.max
    } else {
        tracing::warn!(backend = name, "backend skipped for {length:?}: {why}");
        length
    };
    let cell = cell.clone();
    tokio::spawn(async move {
        tokio::time::sleep(length).await;
        if cell.end_unreachable(id) {
            series.changed(true);
            tracing::info!(backend = name, "backend back in rotation after {length:?}");
        }
    });
    Some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARAMS: Unreachable = Unreachable {
        base: Duration::from_secs(1),
        max: Duration::from_secs(30),
        until_check_passes: false,
    };

    fn mark(cell: &Arc<HealthCell>) -> Option<Duration> {
        mark_unreachable(cell, PARAMS, "b".into(), "test", HealthSeries::noop())
    }

    async fn advance(by: Duration) {
        tokio::time::sleep(by).await;
        tokio::task::yield_now().await;
    }

    #[tokio::test(start_paused = true)]
    async fn marks_double_up_to_the_cap_and_end_by_themselves() {
        let cell = Arc::new(HealthCell::new(true));
        let mut lengths = Vec::new();
        for _ in 0..7 {
            let length = mark(&cell).unwrap();
            assert!(!cell.is_eligible() && !cell.is_healthy() && cell.is_unreachable());
            assert_eq!(mark(&cell), None, "already marked");
            advance(length - Duration::from_millis(1)).await;
            assert!(cell.is_unreachable(), "still out just before the end");
            advance(Duration::from_millis(2)).await;
            assert!(
                cell.on_probation() && !cell.is_unreachable(),
                "on probation at the end"
            );
            assert!(
                cell.is_eligible_when(|| true),
                "for a request when none is in flight"
            );
            assert!(!cell.is_eligible_when(|| false), "but not beside one");
            lengths.push(length.as_secs());
        }
        assert_eq!(lengths, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_resets_the_doubling_and_a_passing_check_ends_the_mark() {
        let cell = Arc::new(HealthCell::new(true));
        let first = mark(&cell).unwrap();
        advance(first + Duration::from_millis(1)).await;
        cell.record_exchange(false);
        assert_eq!(
            mark(&cell),
            Some(Duration::from_secs(1)),
            "reset by a success"
        );
        assert!(cell.reachable_again(), "a passing check ends it at once");
        assert!(cell.is_eligible());
        assert_eq!(mark(&cell), Some(Duration::from_secs(1)), "and resets it");
        // The first mark's timer is stale now: it must not end the new mark.
        assert!(cell.reachable_again());
        let (id, _) = cell.mark_unreachable(PARAMS.base, PARAMS.max).unwrap();
        assert!(!cell.end_unreachable(id.wrapping_sub(1)));
        assert!(cell.is_unreachable());
        assert!(cell.end_unreachable(id));
    }

    #[tokio::test(start_paused = true)]
    async fn with_checks_a_mark_lasts_until_a_check_passes() {
        let cell = Arc::new(HealthCell::new(true));
        let params = Unreachable {
            until_check_passes: true,
            ..PARAMS
        };
        mark_unreachable(&cell, params, "b".into(), "test", HealthSeries::noop()).unwrap();
        advance(PARAMS.max - Duration::from_millis(1)).await;
        assert!(cell.is_unreachable(), "no doubling timer ends it");
        assert!(cell.reachable_again());
        assert!(cell.is_eligible(), "a passing check brings it back in full");
        mark_unreachable(&cell, params, "b".into(), "test", HealthSeries::noop()).unwrap();
        advance(PARAMS.max + Duration::from_millis(1)).await;
        assert!(
            cell.on_probation(),
            "with no check left, it ends at the cap"
        );
    }
}
