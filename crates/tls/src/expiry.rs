//! Certificates near their end: a warning when one is expired or expires soon, and the
//! expiry gauge's value.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::cert_facts::CertFacts;

/// A certificate expiring within this is warned about at every load: 30 days is what
/// ACME clients (certbot, cert-manager) leave before renewing, so a certificate this
/// close to its end means renewal is failing.
pub(crate) const WARN_WITHIN: Duration = Duration::from_secs(30 * 24 * 3600);

/// Warns (naming listener, path, names and date) when `facts` says the certificate in
/// `path` is expired or expires within [`WARN_WITHIN`] of `now`.
pub(crate) fn warn_if_near(listener: &str, path: &Path, facts: &CertFacts, now: SystemTime) {
    let names = facts.names.join(", ");
    let (path, date) = (path.display(), &facts.not_after_text);
    match facts.not_after.duration_since(now) {
        Err(_) => tracing::warn!(
            "listener {listener}: the certificate in {path} ({names}) expired on {date}"
        ),
        Ok(left) if left < WARN_WITHIN => tracing::warn!(
            "listener {listener}: the certificate in {path} ({names}) expires on {date}, in {} days",
            left.as_secs() / 86_400
        ),
        Ok(_) => {}
    }
}

/// `time` as Unix seconds (negative before 1970), the gauge's unit.
pub(crate) fn unix_seconds(time: SystemTime) -> f64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_counts_from_1970_both_ways() {
        let after = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(unix_seconds(after), 1_700_000_000.0);
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(86_400);
        assert_eq!(unix_seconds(before), -86_400.0);
    }
}
