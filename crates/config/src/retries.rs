//! Validation of a cluster's `retries:`. Every error is collected with its YAML path.

use crate::errors::Errors;
use crate::numbers::{count, percent};
use crate::raw::{RawRetries, RawStatus};
use crate::retry_spec::retry_defaults as d;
use crate::retry_spec::{RetryOn, RetrySpec};

/// The validated `retries:` (`at` is `clusters.NAME.retries`).
pub(crate) fn retries(errors: &mut Errors<'_>, at: &str, raw: &RawRetries) -> RetrySpec {
    let on = match &raw.on {
        None => RetryOn {
            connect_failure: true,
            reset: true,
            timeout: false,
            statuses: vec![502, 503, 504],
        },
        Some(list) => retry_on(errors, &format!("{at}.on"), list),
    };
    RetrySpec {
        attempts: count(
            errors,
            format!("{at}.attempts"),
            raw.attempts,
            d::ATTEMPTS,
            0,
            10,
        ),
        on,
        budget_percent: raw.budget.as_ref().map_or(d::BUDGET_PERCENT, |p| {
            percent(errors, format!("{at}.budget"), p, 0, 100)
        }),
        min_concurrent: count(
            errors,
            format!("{at}.min_concurrent"),
            raw.min_concurrent,
            d::MIN_CONCURRENT,
            0,
            100_000,
        ),
        backoff: match raw.backoff.as_deref().map(crate::duration::parse_duration) {
            None => d::BACKOFF,
            Some(Ok(backoff)) if backoff <= d::MAX_BACKOFF => backoff,
            Some(Ok(backoff)) => {
                errors.push(
                    format!("{at}.backoff"),
                    format!("{backoff:?} is longer than {:?}", d::MAX_BACKOFF),
                );
                d::BACKOFF
            }
            Some(Err(message)) => {
                errors.push(format!("{at}.backoff"), message);
                d::BACKOFF
            }
        },
    }
}

fn retry_on(errors: &mut Errors<'_>, at: &str, list: &[RawStatus]) -> RetryOn {
    let mut on = RetryOn::default();
    for (i, item) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        match item {
            RawStatus::Range(name) if name == "connect_failure" => on.connect_failure = true,
            RawStatus::Range(name) if name == "reset" => on.reset = true,
            RawStatus::Range(name) if name == "timeout" => on.timeout = true,
            RawStatus::Code(code) if (500..=599).contains(code) => {
                on.statuses.extend(u16::try_from(*code).ok());
            }
            other => {
                let shown = match other {
                    RawStatus::Code(c) => c.to_string(),
                    RawStatus::Range(t) => t.clone(),
                };
                errors.push(
                    at,
                    format!(
                        "unknown retry condition \"{shown}\" (expected {}, or a status 500 to 599)",
                        RetryOn::NAMES.join(", ")
                    ),
                );
            }
        }
    }
    on
}
