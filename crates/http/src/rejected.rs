//! Requests the HTTP parser refused before they became requests (malformed heads,
//! conflicting framing, oversized heads, heads that never finished): counted and
//! logged, so a smuggling attempt is visible to the operator.
//!
//! Most are refused before hyper sees them ([`crate::head_guard`], which also times
//! heads out) and answered by [`crate::refusal`]; what hyper still refuses itself (one
//! the guard let through and hyper did not, or an HTTP/2 connection's timeout) ends
//! the connection with hyper's error, which [`record_hyper`] sees afterwards. The log line is rate-limited:
//! a flood of bad requests must not turn into a flood of log lines.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sluicegate_metrics::{ListenerSeries, RejectReason};

/// At most one log line per this many seconds (with the number left out since).
const LOG_EVERY_SECS: u64 = 1;

/// What a connection-ending error says about a refused request, with the status hyper
/// answered it with; `None` for errors that are not a refused request.
pub(crate) fn reason(error: &hyper::Error) -> Option<(RejectReason, Option<u16>)> {
    if error.is_timeout() {
        return Some((RejectReason::HeadTimeout, None));
    }
    if error.is_parse_too_large() {
        return Some((RejectReason::HeadTooLarge, Some(431)));
    }
    if !error.is_parse() {
        return None;
    }
    // hyper's parse errors say what did not parse only in their text.
    let text = error.to_string();
    let found = if text.contains("URI too long") {
        (RejectReason::UriTooLong, Some(414))
    } else if text.contains("content-length") || text.contains("transfer-encoding") {
        (RejectReason::Framing, Some(400))
    } else {
        (RejectReason::Malformed, Some(400))
    };
    Some(found)
}

/// Counts a request hyper refused on `series` and logs it, rate-limited.
pub(crate) fn record_hyper(
    series: Option<&ListenerSeries>,
    listener: &str,
    peer: SocketAddr,
    error: &hyper::Error,
) {
    if let Some(found) = reason(error) {
        record(series, listener, peer, found, error);
    }
}

/// Counts a refused request on `series` (answered with `status`, if it was) and logs
/// it, rate-limited.
pub(crate) fn record(
    series: Option<&ListenerSeries>,
    listener: &str,
    peer: SocketAddr,
    (reason, status): (RejectReason, Option<u16>),
    error: &dyn std::fmt::Display,
) {
    if let Some(series) = series {
        series.rejected(reason, status);
    }
    if let Some(skipped) = may_log() {
        tracing::warn!(
            listener,
            %peer,
            reason = reason.label(),
            status,
            skipped,
            "request refused: {error}"
        );
    }
}

static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
static SKIPPED: AtomicU64 = AtomicU64::new(0);

/// `Some(lines left out since the last one)` when a line may be written now.
fn may_log() -> Option<u64> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_LOGGED.load(Ordering::Relaxed);
    let due = now >= last.saturating_add(LOG_EVERY_SECS) || last == 0;
    if due
        && LAST_LOGGED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        return Some(SKIPPED.swap(0, Ordering::Relaxed));
    }
    SKIPPED.fetch_add(1, Ordering::Relaxed);
    None
}
