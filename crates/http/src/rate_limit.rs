//! A route's rate limit on the request path: the request's key (the client's
//! address, a header's value, or the route) checked against the route's buckets
//! (`sluicegate_runtime::RateLimit`), before a backend is picked. A request whose
//! header key is missing is not limited (nginx's `limit_req` with an empty key).

use http::request::Parts;
use sluicegate_runtime::{LimitKey, RateLimit};

use crate::identity::Identity;
use crate::status::ProxyError;

/// `Err(429)` when `head`'s key has no token left in `limit`.
pub(crate) fn check(
    limit: &RateLimit,
    head: &Parts,
    identity: &Identity,
) -> Result<(), ProxyError> {
    let checked = match &limit.params.key {
        LimitKey::SourceIp => limit.check_address(identity.client),
        LimitKey::Header(name) => match head.headers.get(name) {
            Some(value) => limit.check(value.as_bytes()),
            None => Ok(()),
        },
        LimitKey::Route => limit.check(b""),
    };
    checked.map_err(|limited| ProxyError::RateLimited {
        per_second: limit.params.per_second.get(),
        retry_after: limited.retry_after,
    })
}
