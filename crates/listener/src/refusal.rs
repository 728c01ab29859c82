//! Refused request heads, from the connection's guard to its service: the guard files
//! a [`Refusal`] under the number of the request it would have been
//! ([`crate::head_guard`]), and the service answers that request with it.
//!
//! The answer is the one every other error gets (status and one-line body from
//! [`crate::status`], `Connection: close`, an `X-Request-Id`), counted by reason
//! ([`crate::rejected`]) and written to the access log when it is on.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use http::{HeaderMap, Response};
use sluicegate_runtime::TrustedProxies;

use crate::ProxyBody;
use crate::access::{AccessRecord, Outcome};
use crate::head_check::Refusal;
use crate::identity::{Identity, X_REQUEST_ID};
use crate::proxy::{ClientConn, Live};
use crate::rejected;

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

    /// Counts a request reaching the service: its refusal, if it is the refused one.
    pub(crate) fn next(&self) -> Option<&Refusal> {
        let index = self.served.fetch_add(1, Ordering::Relaxed);
        match self.refused.get() {
            Some((at, refusal)) if *at == index => Some(refusal),
            _ => None,
        }
    }
}

/// The answer to a refused request on `conn` from `peer`: counted, logged, closing.
pub(crate) fn answer(
    live: &Live,
    conn: &ClientConn,
    peer: SocketAddr,
    refusal: &Refusal,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let listener = live.snapshot.listener(&conn.listener);
    let status = refusal.error.status().as_u16();
    rejected::record(
        listener.map(|l| &l.series),
        &conn.listener,
        peer,
        (refusal.reason, Some(status)),
        &refusal.error,
    );
    let none = TrustedProxies::default();
    let trusted = listener.map_or(&none, |l| &l.trusted_proxies);
    let identity = Identity::of(&HeaderMap::new(), &conn.peer, trusted);
    let mut response = refusal.error.to_response();
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), identity.request_id.clone());
    let log = live.snapshot.access_log.then(|| {
        let mut record = AccessRecord::unparsed(&conn.listener, &refusal.line, &identity, started);
        record.answered(Outcome {
            status,
            ..Outcome::default()
        });
        record
    });
    response.map(|body| body.logged(log))
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
        assert_eq!(refusals.next(), None);
        assert_eq!(refusals.next(), Some(&refusal));
        assert_eq!(refusals.next(), None);
    }
}
