//! Validation of a cluster's health keys: `health_check`, `outlier` and
//! `panic_threshold`. Every error is collected with its YAML path.

use std::time::Duration;

use crate::errors::Errors;
use crate::health_spec::health_defaults as d;
use crate::health_spec::{CheckKind, HealthCheckSpec, HttpCheck, OutlierSpec, UnreachableSpec};
use crate::numbers::{count, percent};
use crate::raw::{RawHealthCheck, RawOutlier, RawPercent, RawStatus, RawUnreachable};

/// The validated `health_check:` (`at` is `clusters.NAME.health_check`).
pub(crate) fn health_check(
    errors: &mut Errors<'_>,
    at: &str,
    raw: &RawHealthCheck,
) -> HealthCheckSpec {
    let kind = match raw.kind.as_deref().unwrap_or("http") {
        "tcp" => {
            for (key, given) in [
                ("path", raw.path.is_some()),
                ("method", raw.method.is_some()),
                ("host", raw.host.is_some()),
                ("expect_status", raw.expect_status.is_some()),
            ] {
                if given {
                    errors.push(format!("{at}.{key}"), "applies only to type http");
                }
            }
            CheckKind::Tcp
        }
        "http" => CheckKind::Http(http_check(errors, at, raw)),
        other => {
            errors.push(
                format!("{at}.type"),
                format!("unknown check type \"{other}\" (expected http or tcp)"),
            );
            CheckKind::Tcp
        }
    };
    let initially_healthy = match raw.initial_state.as_deref() {
        None | Some("healthy") => true,
        Some("unhealthy") => false,
        Some(other) => {
            errors.push(
                format!("{at}.initial_state"),
                format!("unknown state \"{other}\" (expected healthy or unhealthy)"),
            );
            true
        }
    };
    HealthCheckSpec {
        kind,
        interval: errors.duration(
            format!("{at}.interval"),
            raw.interval.as_deref(),
            d::INTERVAL,
        ),
        timeout: errors.duration(format!("{at}.timeout"), raw.timeout.as_deref(), d::TIMEOUT),
        rise: count(errors, format!("{at}.rise"), raw.rise, d::RISE, 1, 100),
        fall: count(errors, format!("{at}.fall"), raw.fall, d::FALL, 1, 100),
        jitter_percent: raw.jitter.as_ref().map_or(d::JITTER_PERCENT, |p| {
            percent(errors, format!("{at}.jitter"), p, 0, 50)
        }),
        initially_healthy,
    }
}

fn http_check(errors: &mut Errors<'_>, at: &str, raw: &RawHealthCheck) -> HttpCheck {
    let path = raw.path.clone().unwrap_or_else(|| d::PATH.to_owned());
    if !path.starts_with('/') || path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        errors.push(
            format!("{at}.path"),
            format!("invalid path \"{path}\": it must start with / and hold no spaces"),
        );
    }
    let method = raw.method.clone().unwrap_or_else(|| "GET".to_owned());
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        errors.push(
            format!("{at}.method"),
            format!(
                "invalid method \"{method}\" (expected an upper-case name such as GET or HEAD)"
            ),
        );
    }
    if let Some(host) = &raw.host
        && (host.is_empty() || host.bytes().any(|b| b <= b' ' || b == 0x7f))
    {
        errors.push(format!("{at}.host"), format!("invalid host \"{host}\""));
    }
    let expect = match &raw.expect_status {
        None => vec![(200, 399)],
        Some(list) if list.is_empty() => {
            errors.push(format!("{at}.expect_status"), "give at least one status");
            vec![(200, 399)]
        }
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, s)| status_range(errors, format!("{at}.expect_status[{i}]"), s))
            .collect(),
    };
    HttpCheck {
        path,
        method,
        host: raw.host.clone(),
        expect,
    }
}

/// `200` or `"200-399"`, each bound 100 to 599.
fn status_range(errors: &mut Errors<'_>, at: String, raw: &RawStatus) -> Option<(u16, u16)> {
    let parsed = match raw {
        RawStatus::Code(code) => u16::try_from(*code).ok().map(|c| (c, c)),
        RawStatus::Range(text) => match text.split_once('-') {
            Some((lo, hi)) => lo.trim().parse().ok().zip(hi.trim().parse().ok()),
            None => text.trim().parse().ok().map(|c| (c, c)),
        },
    };
    match parsed {
        Some((lo, hi)) if (100..=599).contains(&lo) && (lo..=599).contains(&hi) => Some((lo, hi)),
        _ => {
            let shown = match raw {
                RawStatus::Code(c) => c.to_string(),
                RawStatus::Range(t) => t.clone(),
            };
            errors.push(
                at,
                format!("invalid status \"{shown}\" (expected a code or LOW-HIGH, 100 to 599)"),
            );
            None
        }
    }
}

/// The validated `unreachable:` (`at` is `clusters.NAME.unreachable`); on by default,
/// `None` when `ejection: 0s` turns it off.
pub(crate) fn unreachable(
    errors: &mut Errors<'_>,
    at: &str,
    raw: Option<&RawUnreachable>,
) -> Option<UnreachableSpec> {
    let Some(raw) = raw else {
        return Some(UnreachableSpec::default());
    };
    // `ejection: 0s` is how it is turned off (elsewhere a zero duration is an error).
    let off = raw.ejection.as_deref().map(crate::duration::parse_duration);
    if off == Some(Ok(std::time::Duration::ZERO)) {
        return None;
    }
    let (ejection, max_ejection) = ejection_times(
        errors,
        at,
        ("ejection", raw.ejection.as_deref(), d::UNREACHABLE_EJECTION),
        (raw.max_ejection.as_deref(), d::UNREACHABLE_MAX_EJECTION),
    );
    Some(UnreachableSpec {
        ejection,
        max_ejection,
    })
}

/// A first ejection time (`key` under `at`) and `max_ejection`, which may not be
/// shorter (its default grows to the first when that is set longer).
fn ejection_times(
    errors: &mut Errors<'_>,
    at: &str,
    (key, base, base_default): (&str, Option<&str>, Duration),
    (max, max_default): (Option<&str>, Duration),
) -> (Duration, Duration) {
    let base = errors.duration(format!("{at}.{key}"), base, base_default);
    let max = errors.duration(format!("{at}.max_ejection"), max, max_default.max(base));
    if max < base {
        errors.push(
            format!("{at}.max_ejection"),
            format!("{max:?} is shorter than {key} ({base:?})"),
        );
    }
    (base, max)
}

/// The validated `outlier:` (`at` is `clusters.NAME.outlier`).
pub(crate) fn outlier(errors: &mut Errors<'_>, at: &str, raw: &RawOutlier) -> OutlierSpec {
    let (base_ejection, max_ejection) = ejection_times(
        errors,
        at,
        (
            "base_ejection",
            raw.base_ejection.as_deref(),
            d::BASE_EJECTION,
        ),
        (raw.max_ejection.as_deref(), d::MAX_EJECTION),
    );
    OutlierSpec {
        consecutive_failures: count(
            errors,
            format!("{at}.consecutive_failures"),
            raw.consecutive_failures,
            d::CONSECUTIVE_FAILURES,
            1,
            1000,
        ),
        base_ejection,
        max_ejection,
        max_ejected_percent: raw
            .max_ejected_percent
            .as_ref()
            .map_or(d::MAX_EJECTED_PERCENT, |p| {
                percent(errors, format!("{at}.max_ejected_percent"), p, 0, 100)
            }),
    }
}

/// The validated `panic_threshold` (0 = off).
pub(crate) fn panic_threshold(errors: &mut Errors<'_>, at: &str, raw: Option<&RawPercent>) -> u8 {
    raw.map_or(0, |p| {
        percent(errors, format!("{at}.panic_threshold"), p, 0, 100)
    })
}
