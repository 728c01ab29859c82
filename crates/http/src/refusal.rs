//! The answer to a refused request head: the guard files a [`Refusal`] under the
//! number of the request it would have been ([`crate::refusals`]), and the service
//! answers that request with it.
//!
//! The answer is the one every other error gets (status and one-line body from
//! [`crate::status`], `Connection: close`, an `X-Request-Id`), counted by reason
//! ([`crate::rejected`]) and written to the access log when it is on.

use std::net::SocketAddr;
use std::time::Instant;

use http::{HeaderMap, Response};
use sluicegate_runtime::TrustedProxies;

use crate::access::{AccessRecord, Outcome};
use crate::body::ProxyBody;
use crate::conn::ClientConn;
use crate::head_check::Refusal;
use crate::identity::{Identity, X_REQUEST_ID};
use crate::live::Live;
use crate::rejected;

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
    response.map(|body| body.logged(log.map(Box::new)))
}
