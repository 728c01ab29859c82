//! Health and retry series: per backend (checks, state changes, ejections) and per
//! cluster (retries, budget exhaustion). Registered only for clusters that configure
//! the feature, so a cluster without health checks has no check series.

use metrics::{Counter, counter};

use crate::lazy::LazyCounter;
use crate::names::*;
use crate::series::key;

/// Why a request was sent again: the `reason` label of `sluicegate_retries_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryReason {
    /// The connection could not be opened.
    ConnectFailure,
    /// The connection failed after the request was sent.
    Reset,
    /// No response head within the response timeout.
    Timeout,
    /// The backend answered with a status listed in `retries.on`.
    Status,
}

impl RetryReason {
    /// Every reason, in label order.
    pub const ALL: [RetryReason; 4] = [
        RetryReason::ConnectFailure,
        RetryReason::Reset,
        RetryReason::Timeout,
        RetryReason::Status,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            RetryReason::ConnectFailure => "connect_failure",
            RetryReason::Reset => "reset",
            RetryReason::Timeout => "timeout",
            RetryReason::Status => "status",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Health series of one backend.
#[derive(Debug, Clone)]
pub struct HealthSeries {
    /// Checks passed, failed.
    checks: [LazyCounter; 2],
    /// Entered healthy, entered unhealthy.
    changes: [LazyCounter; 2],
    ejections: LazyCounter,
}

impl HealthSeries {
    /// The series of backend `backend` of `cluster`, each registered at its first
    /// count (a backend never checked, changed or ejected exports none); `checks`
    /// says whether the cluster runs active checks (else that series is a no-op).
    pub fn register(cluster: &str, backend: &str, checks: bool) -> Self {
        let labels = [("cluster", cluster), ("backend", backend)];
        let with = |name: &'static str, extra: (&'static str, &str)| {
            LazyCounter::new(key(name, &[labels[0], labels[1], extra]))
        };
        Self {
            checks: ["pass", "fail"].map(|result| {
                if checks {
                    with(HEALTH_CHECKS_TOTAL, ("result", result))
                } else {
                    LazyCounter::noop()
                }
            }),
            changes: ["healthy", "unhealthy"]
                .map(|to| with(BACKEND_STATE_CHANGES_TOTAL, ("to", to))),
            ejections: LazyCounter::new(key(OUTLIER_EJECTIONS_TOTAL, &labels)),
        }
    }

    /// Series that record nothing (a cluster without health features).
    pub fn noop() -> Self {
        Self {
            checks: [const { LazyCounter::noop() }; 2],
            changes: [const { LazyCounter::noop() }; 2],
            ejections: LazyCounter::noop(),
        }
    }

    /// Counts one active check.
    pub fn check(&self, passed: bool) {
        let [pass, fail] = &self.checks;
        if passed { pass } else { fail }.increment(1);
    }

    /// Counts a transition into healthy (`true`) or unhealthy.
    pub fn changed(&self, healthy: bool) {
        let [up, down] = &self.changes;
        if healthy { up } else { down }.increment(1);
    }

    /// Counts an outlier ejection.
    pub fn ejected(&self) {
        self.ejections.increment(1);
    }

    /// Keeps every series alive through the next scrape.
    pub fn touch(&self) {
        for c in self.checks.iter().chain(&self.changes) {
            c.touch();
        }
        self.ejections.touch();
    }
}

/// Retry series of one cluster.
#[derive(Debug)]
pub struct RetrySeries {
    retries: [Counter; 4],
    exhausted: Counter,
}

impl RetrySeries {
    /// Registers the retry series of `cluster`.
    pub fn register(cluster: &str) -> Self {
        let c = || cluster.to_owned();
        Self {
            retries: RetryReason::ALL
                .map(|r| counter!(RETRIES_TOTAL, "cluster" => c(), "reason" => r.label())),
            exhausted: counter!(RETRY_BUDGET_EXHAUSTED_TOTAL, "cluster" => c()),
        }
    }

    /// Series that record nothing (a cluster without retries).
    pub fn noop() -> Self {
        Self {
            retries: [const { Counter::noop() }; 4],
            exhausted: Counter::noop(),
        }
    }

    /// Counts one retry sent after a failure of kind `reason`.
    pub fn retried(&self, reason: RetryReason) {
        if let Some(c) = self.retries.get(reason.index()) {
            c.increment(1);
        }
    }

    /// Counts a retry the budget refused.
    pub fn budget_exhausted(&self) {
        self.exhausted.increment(1);
    }

    /// Keeps every series alive through the next scrape.
    pub fn touch(&self) {
        for c in &self.retries {
            c.increment(0);
        }
        self.exhausted.increment(0);
    }
}
