//! Series of one discovered cluster: its source's answers by result, the size of the
//! set it serves, and when the source last answered well. Registered when the cluster
//! is compiled with a `discovery:` block, so a cluster with `backends:` has none;
//! every result shows 0 from the start, so a rate can be taken before the first
//! failure.

use metrics::{Counter, Gauge, counter, gauge};

use crate::names::*;

/// What became of one answer of a discovery source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoveryResult {
    /// The set changed and is served.
    Applied,
    /// The same set as the one served: nothing to do.
    Unchanged,
    /// No backends in the answer: the last good set is kept (`empty: keep_last`).
    Empty,
    /// The lookup failed (no answer, SERVFAIL, unreachable): the last good set is kept.
    Failed,
    /// The set cannot serve in the cluster (too large for it): the last good set is kept.
    Rejected,
}

impl DiscoveryResult {
    /// Every result, in label order.
    pub const ALL: [DiscoveryResult; 5] = [
        DiscoveryResult::Applied,
        DiscoveryResult::Unchanged,
        DiscoveryResult::Empty,
        DiscoveryResult::Failed,
        DiscoveryResult::Rejected,
    ];

    /// Its label value.
    pub fn name(self) -> &'static str {
        match self {
            DiscoveryResult::Applied => "applied",
            DiscoveryResult::Unchanged => "unchanged",
            DiscoveryResult::Empty => "empty",
            DiscoveryResult::Failed => "failed",
            DiscoveryResult::Rejected => "rejected",
        }
    }

    /// Whether the source answered well (the set served is its answer).
    pub fn good(self) -> bool {
        matches!(self, DiscoveryResult::Applied | DiscoveryResult::Unchanged)
    }
}

/// Series of one discovered cluster.
#[derive(Debug)]
pub struct DiscoverySeries {
    /// One counter per [`DiscoveryResult`], in [`DiscoveryResult::ALL`]'s order.
    updates: [Counter; 5],
    backends: Gauge,
    last_success: Gauge,
}

impl DiscoverySeries {
    /// Registers the series of `cluster`.
    pub fn register(cluster: &str) -> Self {
        let c = || cluster.to_owned();
        Self {
            updates: DiscoveryResult::ALL.map(|result| {
                counter!(DISCOVERY_UPDATES_TOTAL, "cluster" => c(), "result" => result.name())
            }),
            backends: gauge!(DISCOVERY_BACKENDS, "cluster" => c()),
            last_success: gauge!(DISCOVERY_LAST_SUCCESS_TIMESTAMP_SECONDS, "cluster" => c()),
        }
    }

    /// Records one answer: its result, the backends served after it, and, for a good
    /// answer, `unix_seconds` as the last success.
    pub fn answered(&self, result: DiscoveryResult, served: usize, unix_seconds: f64) {
        if let Some(i) = DiscoveryResult::ALL.iter().position(|r| *r == result) {
            self.updates[i].increment(1);
        }
        self.backends.set(served as f64);
        if result.good() {
            self.last_success.set(unix_seconds);
        }
    }

    /// Keeps every series alive through the next scrape.
    pub fn touch(&self) {
        for c in &self.updates {
            c.increment(0);
        }
        self.backends.increment(0.0);
        self.last_success.increment(0.0);
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::DebugValue;

    use super::*;
    use crate::recorded::recorded;

    #[test]
    fn counts_each_result_and_stamps_only_good_answers() {
        let seen = recorded(|| {
            let series = DiscoverySeries::register("api");
            series.answered(DiscoveryResult::Applied, 3, 100.0);
            series.answered(DiscoveryResult::Failed, 3, 200.0);
            series.answered(DiscoveryResult::Failed, 3, 300.0);
        });
        let gauge = |name: &str, v: f64| {
            (
                name.to_owned(),
                vec!["cluster=api".to_owned()],
                DebugValue::Gauge(v.into()),
            )
        };
        let updates = |result: &str, n| {
            (
                DISCOVERY_UPDATES_TOTAL.to_owned(),
                vec!["cluster=api".to_owned(), format!("result={result}")],
                DebugValue::Counter(n),
            )
        };
        assert_eq!(
            seen,
            vec![
                gauge(DISCOVERY_BACKENDS, 3.0),
                gauge(DISCOVERY_LAST_SUCCESS_TIMESTAMP_SECONDS, 100.0),
                updates("applied", 1),
                updates("empty", 0),
                updates("failed", 2),
                updates("rejected", 0),
                updates("unchanged", 0),
            ]
        );
    }
}
