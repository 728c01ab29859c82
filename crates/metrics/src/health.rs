//! Health and retry series: per backend (checks, state changes, ejections) and per
//! cluster (retries, budget exhaustion). Registered only for clusters that configure
//! the feature, so a cluster without health checks has no check series.

use metrics::{Counter, counter};

use crate::names::*;

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
    checks: [Counter; 2],
    /// Entered healthy, entered unhealthy.
    changes: [Counter; 2],
    ejections: Counter,
}

impl HealthSeries {
    /// Registers the series of backend `backend` of `cluster`; `checks` says whether
    /// the cluster runs active checks (else that series stays a no-op).
    pub fn register(cluster: &str, backend: &str, checks: bool) -> Self {
        let c = || cluster.to_owned();
        let b = || backend.to_owned();
        Self {
            checks: ["pass", "fail"].map(|result| {
                if checks {
                    counter!(HEALTH_CHECKS_TOTAL, "cluster" => c(), "backend" => b(), "result" => result)
                } else {
                    Counter::noop()
                }
            }),
            changes: ["healthy", "unhealthy"].map(|to| {
                counter!(BACKEND_STATE_CHANGES_TOTAL, "cluster" => c(), "backend" => b(), "to" => to)
            }),
            ejections: counter!(OUTLIER_EJECTIONS_TOTAL, "cluster" => c(), "backend" => b()),
        }
    }

    /// Series that record nothing (a cluster without health features).
    pub fn noop() -> Self {
        Self {
            checks: [const { Counter::noop() }; 2],
            changes: [const { Counter::noop() }; 2],
            ejections: Counter::noop(),
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
            c.increment(0);
        }
        self.ejections.increment(0);
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
