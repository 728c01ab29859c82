//! Token-bucket limits: `routes[i].rate_limit` (`requests_per_second`, `burst`), keyed
//! by the client's address, a request header, or nothing (the whole route); and
//! `listeners.*.connection_rate_limit` (`connections_per_second`, `burst`), always per
//! client address.

use crate::errors::Errors;
use crate::raw::{RawConnectionRate, RawLimitKey, RawRateLimit};
use crate::spec::{ConnectionRateSpec, LimitKey, RateLimitSpec};

/// Largest rate and `burst`.
const MAX_RATE: u32 = 1_000_000;

/// The rate limit at `at`, or `None` (after pushing its errors) when unusable.
pub(crate) fn rate_limit(
    errors: &mut Errors<'_>,
    at: &str,
    raw: &RawRateLimit,
) -> Option<RateLimitSpec> {
    let before = errors.count();
    let rate = ("requests_per_second", "requests a second per key");
    let (per_second, burst) = bucket(errors, at, rate, raw.requests_per_second, raw.burst)?;
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

/// The connection rate limit at `at`, or `None` (after pushing its errors) when
/// unusable.
pub(crate) fn connection_rate_limit(
    errors: &mut Errors<'_>,
    at: &str,
    raw: &RawConnectionRate,
) -> Option<ConnectionRateSpec> {
    let before = errors.count();
    let rate = (
        "connections_per_second",
        "new connections a second per client address",
    );
    let (per_second, burst) = bucket(errors, at, rate, raw.connections_per_second, raw.burst)?;
    (errors.count() == before).then_some(ConnectionRateSpec { per_second, burst })
}

/// A bucket's rate (the required key `rate.0`, described as `rate.1`) and its burst
/// (default: the rate), each checked against [`MAX_RATE`].
fn bucket(
    errors: &mut Errors<'_>,
    at: &str,
    (key, per): (&str, &str),
    rate: Option<i64>,
    burst: Option<i64>,
) -> Option<(u32, u32)> {
    let Some(rate) = rate else {
        errors.push(format!("{at}.{key}"), format!("required ({per})"));
        return None;
    };
    let per_second =
        crate::numbers::count(errors, format!("{at}.{key}"), Some(rate), 1, 1, MAX_RATE);
    let burst = crate::numbers::count(
        errors,
        format!("{at}.burst"),
        burst,
        per_second,
        1,
        MAX_RATE,
    );
    Some((per_second, burst))
}
