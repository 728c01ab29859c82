//! `routes[i].rate_limit`: a token bucket per key (`requests_per_second`, `burst`),
//! keyed by the client's address, a request header, or nothing (the whole route).

use crate::errors::Errors;
use crate::raw::{RawLimitKey, RawRateLimit};
use crate::spec::{LimitKey, RateLimitSpec};

/// Largest `requests_per_second` and `burst`.
const MAX_RATE: u32 = 1_000_000;

/// The rate limit at `at`, or `None` (after pushing its errors) when unusable.
pub(crate) fn rate_limit(
    errors: &mut Errors<'_>,
    at: &str,
    raw: &RawRateLimit,
) -> Option<RateLimitSpec> {
    let Some(rate) = raw.requests_per_second else {
        errors.push(
            format!("{at}.requests_per_second"),
            "required (requests a second per key)",
        );
        return None;
    };
    let before = errors.count();
    let per_second = crate::numbers::count(
        errors,
        format!("{at}.requests_per_second"),
        Some(rate),
        1,
        1,
        MAX_RATE,
    );
    let burst = crate::numbers::count(
        errors,
        format!("{at}.burst"),
        raw.burst,
        per_second,
        1,
        MAX_RATE,
    );
    let key = match &raw.key {
        None => Some(LimitKey::SourceIp),
        Some(RawLimitKey::Name(name)) => match name.as_str() {
            "source_ip" => Some(LimitKey::SourceIp),
            "route" => Some(LimitKey::Route),
            other => {
                let msg = format!(
                    "unknown key \"{other}\" (expected source_ip, route or {{ header: NAME }})"
                );
                errors.push(format!("{at}.key"), msg);
                None
            }
        },
        Some(RawLimitKey::Header { header }) => {
            let name = header.trim();
            if name.is_empty() || !name.bytes().all(crate::route_match::is_token_byte) {
                errors.push(
                    format!("{at}.key.header"),
                    format!("invalid header name \"{header}\""),
                );
                None
            } else {
                Some(LimitKey::Header(name.to_ascii_lowercase()))
            }
        }
    };
    if errors.count() > before {
        return None;
    }
    Some(RateLimitSpec {
        per_second,
        burst,
        key: key?,
    })
}
