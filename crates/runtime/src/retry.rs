//! A cluster's retries: its policy (which failures, as [`FailedAt`], are sent again,
//! how often, after which pause) and its budget: retries in flight may be at most
//! `budget_percent` of the cluster's active requests, or `min_concurrent`, whichever is
//! larger (Envoy's retry budget), so a failing cluster cannot multiply its own load.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sluicegate_config::{RetrySpec, retry_defaults};
use sluicegate_core::{AfterSend, FailedAt};
use sluicegate_metrics::RetryReason;

use crate::Cluster;

/// When and how often a cluster's requests are sent again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub attempts: u32,
    /// Retry when the connection could not be opened.
    pub connect_failure: bool,
    /// Retry when the connection failed after the request was sent.
    pub reset: bool,
    /// Retry when no response head came within the response timeout.
    pub timeout: bool,
    /// Backend statuses that are retried.
    pub statuses: Vec<u16>,
    /// Retries in flight may be this percentage of the active requests …
    pub budget_percent: u8,
    /// … or this many, whichever is larger.
    pub min_concurrent: u32,
    /// Pause before each retry.
    pub backoff: Duration,
    /// Largest request body buffered for replay.
    pub buffer: usize,
}

impl RetryPolicy {
    /// The policy `retries:` describes.
    pub(crate) fn of(spec: &RetrySpec) -> Self {
        Self {
            attempts: spec.attempts,
            connect_failure: spec.on.connect_failure,
            reset: spec.on.reset,
            timeout: spec.on.timeout,
            statuses: spec.on.statuses.clone(),
            budget_percent: spec.budget_percent,
            min_concurrent: spec.min_concurrent,
            backoff: spec.backoff,
            buffer: retry_defaults::BUFFER,
        }
    }

    /// Whether a failure where `at` says is retried by the policy (whether a resend
    /// is safe is [`FailedAt::resend_safe`]'s to say).
    pub fn retries(&self, at: FailedAt) -> bool {
        match at {
            FailedAt::BeforeSend => self.connect_failure,
            FailedAt::AfterSend(AfterSend::Reset) => self.reset,
            FailedAt::AfterSend(AfterSend::Timeout) => self.timeout,
            FailedAt::AfterSend(AfterSend::Status) => true,
            FailedAt::Downstream | FailedAt::Internal => false,
        }
    }

    /// Whether a request that was sent may be sent again (retries left, and a
    /// condition that applies after sending); only then is a copy of it kept.
    pub fn resends_sent(&self) -> bool {
        self.attempts > 0 && (self.reset || self.timeout || !self.statuses.is_empty())
    }

    /// Whether a backend answer with `status` is retried.
    pub fn retries_status(&self, status: u16) -> bool {
        self.statuses.contains(&status)
    }
}

/// The `reason` label a retry after a failure at `at` is counted under; `None` for a
/// failure that is never retried.
pub(crate) fn retry_reason(at: FailedAt) -> Option<RetryReason> {
    match at {
        FailedAt::BeforeSend => Some(RetryReason::ConnectFailure),
        FailedAt::AfterSend(AfterSend::Reset) => Some(RetryReason::Reset),
        FailedAt::AfterSend(AfterSend::Timeout) => Some(RetryReason::Timeout),
        FailedAt::AfterSend(AfterSend::Status) => Some(RetryReason::Status),
        FailedAt::Downstream | FailedAt::Internal => None,
    }
}

/// A cluster's retries: its budget, and the count of requests between attempts.
impl Cluster {
    /// Takes a retry slot if the cluster has retries and its budget allows one;
    /// counts a refusal.
    pub fn try_retry(&self) -> Option<RetryGuard> {
        let policy = self.retry.as_ref()?;
        let guard = self.retries.try_start(policy, self.in_flight());
        if guard.is_none() {
            self.retry_series.budget_exhausted();
        }
        guard
    }

    /// Keeps a request counted in the cluster's requests in flight while it is
    /// between two attempts.
    pub fn between_attempts(&self) -> BetweenAttempts {
        BetweenAttempts::new(&self.in_flight)
    }

    /// Retries in flight now.
    pub fn retries_in_flight(&self) -> u64 {
        self.retries.in_flight()
    }

    pub(crate) fn retry_counter(&self) -> &Arc<AtomicU64> {
        self.retries.counter()
    }

    /// Counts a retry after a failure where `at` says.
    pub fn retried(&self, at: FailedAt) {
        if let Some(reason) = retry_reason(at) {
            self.retry_series.retried(reason);
        }
    }
}

/// Counts retries in flight over a cluster (carried across reloads by cluster name).
#[derive(Debug, Default)]
pub(crate) struct RetryBudget {
    in_flight: Arc<AtomicU64>,
}

impl RetryBudget {
    pub(crate) fn new(in_flight: Arc<AtomicU64>) -> Self {
        Self { in_flight }
    }

    pub(crate) fn counter(&self) -> &Arc<AtomicU64> {
        &self.in_flight
    }

    /// Takes one retry slot if the budget allows one with `active` requests in flight.
    pub(crate) fn try_start(&self, policy: &RetryPolicy, active: u64) -> Option<RetryGuard> {
        let allowed = (active.saturating_mul(u64::from(policy.budget_percent)) / 100)
            .max(u64::from(policy.min_concurrent));
        let taken = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < allowed).then_some(n + 1)
            });
        taken.ok().map(|_| RetryGuard {
            in_flight: self.in_flight.clone(),
        })
    }

    /// Retries in flight now.
    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }
}

/// A request between two attempts (its retry backing off): it still counts in the
/// cluster's requests in flight, the base of the budget, so that base does not shrink
/// just when many requests retry at once.
#[derive(Debug)]
pub struct BetweenAttempts {
    in_flight: Arc<AtomicU64>,
}

impl BetweenAttempts {
    pub(crate) fn new(in_flight: &Arc<AtomicU64>) -> Self {
        in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            in_flight: in_flight.clone(),
        }
    }
}

impl Drop for BetweenAttempts {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One retry in flight, from its send to the end of its response body; gives its
/// budget slot back when dropped.
#[derive(Debug)]
pub struct RetryGuard {
    in_flight: Arc<AtomicU64>,
}

impl Drop for RetryGuard {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(budget_percent: u8, min_concurrent: u32) -> RetryPolicy {
        RetryPolicy {
            attempts: 2,
            connect_failure: true,
            reset: true,
            timeout: false,
            statuses: vec![503],
            budget_percent,
            min_concurrent,
            backoff: Duration::ZERO,
            buffer: 1024,
        }
    }

    #[test]
    fn the_budget_caps_retries_in_flight_but_allows_min_concurrent() {
        let budget = RetryBudget::default();
        let p = policy(20, 3);
        let held: Vec<RetryGuard> = (0..3).filter_map(|_| budget.try_start(&p, 1)).collect();
        assert_eq!(held.len(), 3, "min_concurrent are always allowed");
        assert!(budget.try_start(&p, 10).is_none(), "20% of 10 is 2 < 3");
        let more: Vec<RetryGuard> = (0..10).filter_map(|_| budget.try_start(&p, 50)).collect();
        assert_eq!(more.len(), 7, "20% of 50 is 10 in flight");
        drop(held);
        assert_eq!(budget.in_flight(), 7);
        drop(more);
        assert_eq!(budget.in_flight(), 0);
        assert!(budget.try_start(&policy(0, 0), 1000).is_none());
    }
}
