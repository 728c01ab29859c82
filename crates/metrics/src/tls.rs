//! TLS series of one terminating listener: certificate reloads, each certificate's
//! expiry, and client handshakes that did not complete. Registered when the listener's certificates are loaded, so a listener
//! without TLS has none.

use metrics::{Counter, Gauge, counter, gauge};

use crate::names::*;

/// TLS series of one listener.
#[derive(Debug)]
pub struct TlsSeries {
    /// Reloads that succeeded, that failed.
    reloads: [Counter; 2],
    /// One expiry gauge per certificate, in the listener's order.
    expiry: Vec<Gauge>,
    /// Handshakes that timed out, that failed otherwise.
    handshake_errors: [Counter; 2],
}

impl TlsSeries {
    /// Registers the series of `listener`, with one expiry gauge per certificate file
    /// in `certs` (the label is the path as configured). Both reload counters show 0
    /// from the start.
    pub fn register(listener: &str, certs: &[String]) -> Self {
        let l = || listener.to_owned();
        Self {
            reloads: ["ok", "error"].map(|result| {
                counter!(TLS_CERTIFICATE_RELOADS_TOTAL, "listener" => l(), "result" => result)
            }),
            expiry: certs
                .iter()
                .map(|cert| {
                    gauge!(TLS_CERTIFICATE_EXPIRY_SECONDS, "listener" => l(), "certificate" => cert.clone())
                })
                .collect(),
            handshake_errors: ["timeout", "error"].map(|reason| {
                counter!(TLS_HANDSHAKE_ERRORS_TOTAL, "listener" => l(), "reason" => reason)
            }),
        }
    }

    /// Counts one client handshake that did not complete: it timed out, or failed.
    pub fn handshake_failed(&self, timed_out: bool) {
        let [timeout, error] = &self.handshake_errors;
        if timed_out { timeout } else { error }.increment(1);
    }

    /// Counts one certificate pair re-read: served (`true`) or refused.
    pub fn reloaded(&self, ok: bool) {
        let [done, failed] = &self.reloads;
        if ok { done } else { failed }.increment(1);
    }

    /// Sets the expiry of certificate `index` to `unix_seconds` (its notAfter).
    pub fn expires(&self, index: usize, unix_seconds: f64) {
        if let Some(g) = self.expiry.get(index) {
            g.set(unix_seconds);
        }
    }

    /// Keeps every series alive through the next scrape.
    pub fn touch(&self) {
        for c in self.reloads.iter().chain(&self.handshake_errors) {
            c.increment(0);
        }
        for g in &self.expiry {
            g.increment(0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use metrics_util::debugging::DebugValue;

    use super::*;
    use crate::recorded::recorded;

    #[test]
    fn records_reloads_and_expiry_under_the_listener() {
        let seen = recorded(|| {
            let series = TlsSeries::register("web", &["a.pem".to_owned()]);
            series.reloaded(true);
            series.reloaded(false);
            series.reloaded(false);
            series.expires(0, 1.9e9);
            series.expires(7, 1.0);
            series.handshake_failed(true);
        });
        let expiry = (
            TLS_CERTIFICATE_EXPIRY_SECONDS.to_owned(),
            vec!["listener=web".to_owned(), "certificate=a.pem".to_owned()],
            DebugValue::Gauge(1.9e9.into()),
        );
        let reloads = |result: &str, n| {
            (
                TLS_CERTIFICATE_RELOADS_TOTAL.to_owned(),
                vec!["listener=web".to_owned(), format!("result={result}")],
                DebugValue::Counter(n),
            )
        };
        let handshakes = |reason: &str, n| {
            (
                TLS_HANDSHAKE_ERRORS_TOTAL.to_owned(),
                vec!["listener=web".to_owned(), format!("reason={reason}")],
                DebugValue::Counter(n),
            )
        };
        assert_eq!(
            seen,
            vec![
                expiry,
                reloads("error", 2),
                reloads("ok", 1),
                handshakes("error", 0),
                handshakes("timeout", 1)
            ]
        );
    }
}
