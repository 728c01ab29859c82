//! Passive checks: a backend whose exchanges fail `consecutive_failures` times in a
//! row (connect errors, resets, 5xx) is ejected for `base × n` (n-th ejection of its
//! streak), at most `max`, and never more than `max_ejected_percent` of a cluster at
//! once (Envoy's outlier detection). The counting lives in [`HealthCell`]; the
//! cluster-wide cap is checked by the caller, which sees the whole cluster.

use std::sync::Arc;
use std::time::Duration;

use sluicegate_metrics::HealthSeries;

use crate::HealthCell;

/// Outlier-ejection parameters of one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outlier {
    /// Failures in a row that eject a backend.
    pub consecutive_failures: u32,
    /// Length of a first ejection.
    pub base_ejection: Duration,
    /// Longest ejection.
    pub max_ejection: Duration,
    /// Largest share (percent) of a cluster's backends ejected at once.
    pub max_ejected_percent: u8,
}

impl Outlier {
    /// Whether one more backend may be ejected when `ejected` of `total` are.
    pub fn may_eject(&self, ejected: usize, total: usize) -> bool {
        (ejected + 1) * 100 <= total * usize::from(self.max_ejected_percent)
    }
}

/// Ejects `cell` now (if it is not ejected already) and readmits it when the
/// ejection ends, in a task of its own. Logs and counts both. Needs a tokio runtime.
pub fn schedule_readmission(
    cell: &Arc<HealthCell>,
    outlier: &Outlier,
    name: String,
    series: HealthSeries,
) -> Option<Duration> {
    let (id, length) = cell.eject(outlier.base_ejection, outlier.max_ejection)?;
    series.ejected();
    series.changed(false);
    tracing::warn!(
        backend = name,
        "backend ejected for {length:?}: {} failures in a row (ejection {})",
        outlier.consecutive_failures,
        cell.ejections()
    );
    let cell = cell.clone();
    tokio::spawn(async move {
        tokio::time::sleep(length).await;
        if cell.readmit(id) {
            series.changed(true);
            tracing::info!(
                backend = name,
                "ejected backend readmitted after {length:?}"
            );
        }
    });
    Some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outlier(max_ejected_percent: u8) -> Outlier {
        Outlier {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(100),
            max_ejected_percent,
        }
    }

    /// Lets the readmission task run up to `at` from now.
    async fn advance(by: Duration) {
        tokio::time::sleep(by).await;
        tokio::task::yield_now().await;
    }

    #[tokio::test(start_paused = true)]
    async fn ejection_times_grow_with_repeats_and_are_capped() {
        let cell = Arc::new(HealthCell::new(true));
        let o = outlier(50);
        let mut lengths = Vec::new();
        for _ in 0..5 {
            let length = schedule_readmission(&cell, &o, "b".into(), HealthSeries::noop()).unwrap();
            assert!(!cell.is_eligible() && cell.is_ejected());
            assert!(cell.ejected_until().is_some());
            assert_eq!(
                schedule_readmission(&cell, &o, "b".into(), HealthSeries::noop()),
                None
            );
            advance(length - Duration::from_millis(1)).await;
            assert!(cell.is_ejected(), "still ejected just before the end");
            advance(Duration::from_millis(2)).await;
            assert!(cell.is_eligible(), "readmitted at the end");
            lengths.push(length.as_secs());
        }
        assert_eq!(lengths, [30, 60, 90, 100, 100]);
        assert_eq!(cell.ejections(), 5);
        // In rotation for max_ejection: the streak ends, the next one starts at base.
        advance(Duration::from_secs(100)).await;
        let length = schedule_readmission(&cell, &o, "b".into(), HealthSeries::noop()).unwrap();
        assert_eq!(length, Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_timer_does_not_readmit_a_newer_ejection() {
        let cell = Arc::new(HealthCell::new(true));
        let (first, _) = cell
            .eject(Duration::from_secs(1), Duration::from_secs(9))
            .unwrap();
        assert!(cell.readmit(first));
        let (second, _) = cell
            .eject(Duration::from_secs(1), Duration::from_secs(9))
            .unwrap();
        assert!(!cell.readmit(first));
        assert!(cell.is_ejected());
        assert!(cell.readmit(second));
    }

    #[test]
    fn never_more_than_the_percent_of_a_cluster() {
        let o = outlier(50);
        assert!(o.may_eject(0, 3));
        assert!(!o.may_eject(1, 3), "2 of 3 is over 50%");
        assert!(o.may_eject(1, 4) && !o.may_eject(2, 4));
        assert!(!o.may_eject(0, 1), "a lone backend is never ejected at 50%");
        assert!(outlier(100).may_eject(0, 1));
        assert!(!outlier(0).may_eject(0, 10));
        assert!(outlier(10).may_eject(0, 10) && !outlier(10).may_eject(1, 10));
    }
}
