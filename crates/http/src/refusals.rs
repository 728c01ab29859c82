//! [`Refusals`]: where a connection's guard files the head it refused
//! ([`crate::head_guard`]) for the service to answer ([`crate::refusal`]).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::head_check::Refusal;

/// One connection's refusal (there is at most one: the connection ends with it) and
/// the count of requests its service has seen.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    refused: OnceLock<(u64, Refusal)>,
    served: AtomicU64,
}

impl Refusals {
    /// Files `refusal` for request number `index` (from 0) of the connection.
    pub(crate) fn refuse(&self, index: u64, refusal: Refusal) {
        let _ = self.refused.set((index, refusal));
    }

    /// The number (from 0) of the request the service serves now: the one [`next`]
    /// counted last. (hyper's HTTP/1 server serves one request at a time.)
    ///
    /// [`next`]: Refusals::next
    pub(crate) fn serving(&self) -> u64 {
        self.served.load(Ordering::Relaxed).saturating_sub(1)
    }

    /// Counts a request reaching the service: its refusal, if it is the refused one.
    pub(crate) fn next(&self) -> Option<&Refusal> {
        let index = self.served.fetch_add(1, Ordering::Relaxed);
        match self.refused.get() {
            Some((at, refusal)) if *at == index => Some(refusal),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::ProxyError;
    use sluicegate_metrics::RejectReason;

    #[test]
    fn only_the_refused_request_gets_the_refusal() {
        let refusals = Refusals::default();
        let refusal = Refusal {
            error: ProxyError::BadRequest("x"),
            reason: RejectReason::Malformed,
            line: String::new(),
        };
        refusals.refuse(2, refusal.clone());
        assert_eq!(refusals.next(), None);
        assert_eq!(refusals.serving(), 0);
        assert_eq!(refusals.next(), None);
        assert_eq!(refusals.next(), Some(&refusal));
        assert_eq!(refusals.serving(), 2);
        assert_eq!(refusals.next(), None);
    }
}
