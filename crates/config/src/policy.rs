//! Validation of a cluster's `policy` and the keys that go with it (`hash_on`, `ring`,
//! `maglev`, `hash_balance_factor`): each key is checked on its own and against the
//! policy it belongs to, and every error is collected.

use crate::errors::Errors;
use crate::policy_spec::{HashOn, PolicySpec};
use crate::raw::{RawCluster, RawHashOn};
use crate::spec::defaults;

/// The cluster's policy, or `None` after pushing its errors. `at` is `clusters.NAME`.
pub(crate) fn policy(
    errors: &mut Errors<'_>,
    at: &str,
    c: &RawCluster,
    backends: usize,
) -> Option<PolicySpec> {
    let name = c.policy.as_deref().unwrap_or("round_robin");
    if !PolicySpec::NAMES.contains(&name) {
        let known = PolicySpec::NAMES.join(", ");
        errors.push(
            format!("{at}.policy"),
            format!("unknown policy \"{name}\" (expected one of: {known})"),
        );
    }
    keys_apply(errors, at, c, name);
    let hash_on = c
        .hash_on
        .as_ref()
        .map_or(Some(HashOn::default()), |h| hash_on(errors, at, h));
    let balance_factor = balance_factor(errors, at, c.hash_balance_factor);
    let points_per_weight = points_per_weight(errors, at, c);
    let size = c.maglev.as_ref().and_then(|m| m.table_size);
    let table_size = table_size(errors, at, size, backends);
    Some(match name {
        "random" => PolicySpec::Random,
        "p2c" => PolicySpec::PowerOfTwo,
        "round_robin" => PolicySpec::RoundRobin,
        "least_connections" => PolicySpec::LeastConnections,
        "ip_hash" => PolicySpec::IpHash { hash_on: hash_on? },
        "ring_hash" => PolicySpec::RingHash {
            hash_on: hash_on?,
            points_per_weight: points_per_weight?,
            balance_factor: balance_factor?,
        },
        "maglev" => PolicySpec::Maglev {
            hash_on: hash_on?,
            table_size: table_size?,
            balance_factor: balance_factor?,
        },
        _ => return None,
    })
}

/// Pushes an error for each of `hash_on`, `ring`, `maglev` and `hash_balance_factor`
/// given with a policy it does not apply to.
fn keys_apply(errors: &mut Errors<'_>, at: &str, c: &RawCluster, name: &str) {
    let hashing = matches!(name, "ip_hash" | "ring_hash" | "maglev");
    let bounded = matches!(name, "ring_hash" | "maglev");
    only_with(
        errors,
        at,
        "hash_on",
        c.hash_on.is_some(),
        hashing,
        "ip_hash, ring_hash or maglev",
    );
    only_with(
        errors,
        at,
        "ring",
        c.ring.is_some(),
        name == "ring_hash",
        "ring_hash",
    );
    only_with(
        errors,
        at,
        "maglev",
        c.maglev.is_some(),
        name == "maglev",
        "maglev",
    );
    only_with(
        errors,
        at,
        "hash_balance_factor",
        c.hash_balance_factor.is_some(),
        bounded,
        "ring_hash or maglev",
    );
}

/// `ring.points_per_weight`, defaulted, or `None` after pushing an error.
fn points_per_weight(errors: &mut Errors<'_>, at: &str, c: &RawCluster) -> Option<u32> {
    let points = c.ring.as_ref().and_then(|r| r.points_per_weight);
    in_range(
        errors,
        format!("{at}.ring.points_per_weight"),
        points.unwrap_or(i64::from(defaults::RING_POINTS_PER_WEIGHT)),
        1,
        defaults::MAX_RING_POINTS_PER_WEIGHT,
    )
}

/// Pushes an error when `key` is given for a policy it does not apply to.
fn only_with(errors: &mut Errors<'_>, at: &str, key: &str, given: bool, applies: bool, to: &str) {
    if given && !applies {
        errors.push(
            format!("{at}.{key}"),
            format!("applies only to policy {to}"),
        );
    }
}

fn hash_on(errors: &mut Errors<'_>, at: &str, raw: &RawHashOn) -> Option<HashOn> {
    let path = format!("{at}.hash_on");
    const EXPECTED: &str =
        "expected source_ip, path, { header: NAME }, { cookie: NAME } or { query: NAME }";
    match raw {
        RawHashOn::Name(name) if name == "source_ip" => Some(HashOn::SourceIp),
        RawHashOn::Name(name) if name == "path" => Some(HashOn::Path),
        RawHashOn::Name(other) => {
            errors.push(path, format!("unknown hash key \"{other}\" ({EXPECTED})"));
            None
        }
        RawHashOn::Keyed(map) => {
            let mut entries = map.iter();
            let (Some((kind, value)), None) = (entries.next(), entries.next()) else {
                errors.push(path, format!("give exactly one key ({EXPECTED})"));
                return None;
            };
            let value = value.trim();
            if value.is_empty() {
                errors.push(format!("{path}.{kind}"), "name must not be empty");
                return None;
            }
            match kind.as_str() {
                "header" if http_token(value) => Some(HashOn::Header(value.to_ascii_lowercase())),
                "header" => {
                    errors.push(
                        format!("{path}.header"),
                        format!("invalid header name \"{value}\""),
                    );
                    None
                }
                "cookie" => Some(HashOn::Cookie(value.to_owned())),
                "query" => Some(HashOn::Query(value.to_owned())),
                other => {
                    errors.push(
                        format!("{path}.{other}"),
                        format!("unknown hash key \"{other}\" ({EXPECTED})"),
                    );
                    None
                }
            }
        }
    }
}

/// RFC 9110 token characters, which is what a header name may contain.
fn http_token(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `Some(None)` when not set, `Some(Some(f))` when valid, `None` after an error.
fn balance_factor(errors: &mut Errors<'_>, at: &str, raw: Option<i64>) -> Option<Option<u32>> {
    match raw {
        None => Some(None),
        Some(f) => in_range(errors, format!("{at}.hash_balance_factor"), f, 100, 10_000).map(Some),
    }
}

fn table_size(errors: &mut Errors<'_>, at: &str, raw: Option<i64>, backends: usize) -> Option<u32> {
    let path = format!("{at}.maglev.table_size");
    let raw = raw.unwrap_or(i64::from(defaults::MAGLEV_TABLE_SIZE));
    let size = in_range(
        errors,
        path.clone(),
        raw,
        3,
        defaults::MAX_MAGLEV_TABLE_SIZE,
    )?;
    if !is_prime(size) {
        let next = (size..)
            .find(|&n| is_prime(n))
            .unwrap_or(defaults::MAGLEV_TABLE_SIZE);
        errors.push(path, format!("table_size {size} is not prime (try {next})"));
        return None;
    }
    if (size as usize) <= backends {
        errors.push(
            path,
            format!("table_size {size} must be larger than the number of backends ({backends})"),
        );
        return None;
    }
    Some(size)
}

fn in_range(errors: &mut Errors<'_>, path: String, value: i64, min: u32, max: u32) -> Option<u32> {
    match u32::try_from(value) {
        Ok(v) if (min..=max).contains(&v) => Some(v),
        _ => {
            errors.push(path, format!("{value} is out of range ({min} to {max})"));
            None
        }
    }
}

fn is_prime(n: u32) -> bool {
    n >= 2
        && (2..)
            .take_while(|d: &u32| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

#[cfg(test)]
mod tests {
    use super::is_prime;

    #[test]
    fn primes() {
        let small: Vec<u32> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(small, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(is_prime(65_537));
        assert!(!is_prime(65_536));
        assert!(is_prime(5_000_011));
    }
}
