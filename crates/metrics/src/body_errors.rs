//! `sluicegate_upstream_body_errors_total{cluster, backend, reason}`: response bodies
//! of one backend that failed after their head had been passed on, so the client's
//! response was cut short. Held by the backend's pool and its connections (one
//! handle each, taken when the pool or the connection is made), counted at the
//! failure: nothing on the path of a body that ends well.

use std::sync::Arc;

use crate::lazy::LazyCounter;

/// Why a response body failed: the `reason` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyErrorReason {
    /// Nothing came for the cluster's `response_body_timeout`.
    Timeout,
    /// The backend closed or reset the connection (or its HTTP/2 stream) mid-body.
    Closed,
    /// The body's framing broke (a bad chunk).
    Invalid,
}

impl BodyErrorReason {
    /// Every reason, in label order.
    pub const ALL: [BodyErrorReason; 3] = [
        BodyErrorReason::Timeout,
        BodyErrorReason::Closed,
        BodyErrorReason::Invalid,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            BodyErrorReason::Timeout => "timeout",
            BodyErrorReason::Closed => "closed",
            BodyErrorReason::Invalid => "invalid",
        }
    }
}

/// One backend's body error counters, registered at their first count.
#[derive(Debug)]
pub struct BodyErrors([LazyCounter; 3]);

impl BodyErrors {
    /// These counters, one per reason in [`BodyErrorReason::ALL`]'s order.
    pub(crate) fn new(counters: [LazyCounter; 3]) -> Arc<Self> {
        Arc::new(Self(counters))
    }

    /// Keeps the registered ones alive through the next scrape.
    pub(crate) fn touch(&self) {
        for counter in &self.0 {
            counter.touch();
        }
    }

    /// Counts one body that failed for `reason`.
    pub fn count(&self, reason: BodyErrorReason) {
        let [timeout, closed, invalid] = &self.0;
        match reason {
            BodyErrorReason::Timeout => timeout,
            BodyErrorReason::Closed => closed,
            BodyErrorReason::Invalid => invalid,
        }
        .increment(1);
    }
}
