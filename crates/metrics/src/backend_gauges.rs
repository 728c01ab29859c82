//! `sluicegate_backend_up` and `sluicegate_backend_in_flight`: the two series every
//! backend has from the start, written as Prometheus text at each scrape from the
//! live state rather than registered with the recorder.
//!
//! Why not registered like the rest: at 40,000 backends these are 80,000 of a
//! scrape's 90,000 lines, and the exporter spent almost all of a 0.34 s render on
//! them (cloning, hashing and sanitising each key, sorting them; `perf` on
//! `GET /metrics`). Written here, straight from the backends, they cost a few
//! milliseconds, and there is no handle to keep alive or to expire.

use std::fmt::Write;

use crate::names::{BACKEND_IN_FLIGHT, BACKEND_UP};
use crate::text::escape;

/// HELP of `sluicegate_backend_in_flight`.
pub(crate) const IN_FLIGHT_HELP: &str = "Requests in flight on a backend.";
/// HELP of `sluicegate_backend_up`.
pub(crate) const UP_HELP: &str = "1 when a backend may be picked, 0 when it is down in the config, \
     drained through the admin API, failing its health checks or ejected as an outlier.";

/// The two gauges of every backend of a config, collected for one scrape.
#[derive(Debug, Default)]
pub struct BackendGauges {
    up: String,
    in_flight: String,
}

impl BackendGauges {
    /// Adds backend `backend` of `cluster`: `in_flight` requests, picked or not (`up`).
    pub fn add(&mut self, cluster: &str, backend: &str, in_flight: u64, up: bool) {
        let labels = labels(cluster, backend);
        // Writing to a String cannot fail.
        let _ = writeln!(self.up, "{BACKEND_UP}{labels} {}", u8::from(up));
        let _ = writeln!(self.in_flight, "{BACKEND_IN_FLIGHT}{labels} {in_flight}");
    }

    /// Appends both families, with HELP and TYPE, to an exposition `out` (which must
    /// not hold them already). Nothing for a config without backends.
    pub fn write_to(self, out: &mut String) {
        for (name, help, lines) in [
            (BACKEND_IN_FLIGHT, IN_FLIGHT_HELP, self.in_flight),
            (BACKEND_UP, UP_HELP, self.up),
        ] {
            if lines.is_empty() {
                continue;
            }
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{lines}");
        }
    }
}

/// `{cluster="…",backend="…"}`, values escaped as the text format asks.
fn labels(cluster: &str, backend: &str) -> String {
    format!(
        "{{cluster=\"{}\",backend=\"{}\"}}",
        escape(cluster),
        escape(backend)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_both_families_with_help_and_type() {
        let mut gauges = BackendGauges::default();
        gauges.add("api", "127.0.0.1:9001", 3, true);
        gauges.add("api", "h\"x\\y:80 (127.0.0.1:80)", 0, false);
        let mut out = String::from("# TYPE other counter\nother 1\n");
        gauges.write_to(&mut out);
        let expected = format!(
            "# TYPE other counter\nother 1\n\n\
             # HELP sluicegate_backend_in_flight {IN_FLIGHT_HELP}\n\
             # TYPE sluicegate_backend_in_flight gauge\n\
             sluicegate_backend_in_flight{{cluster=\"api\",backend=\"127.0.0.1:9001\"}} 3\n\
             sluicegate_backend_in_flight{{cluster=\"api\",backend=\"h\\\"x\\\\y:80 (127.0.0.1:80)\"}} 0\n\n\
             # HELP sluicegate_backend_up {UP_HELP}\n\
             # TYPE sluicegate_backend_up gauge\n\
             sluicegate_backend_up{{cluster=\"api\",backend=\"127.0.0.1:9001\"}} 1\n\
             sluicegate_backend_up{{cluster=\"api\",backend=\"h\\\"x\\\\y:80 (127.0.0.1:80)\"}} 0\n"
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn no_backends_write_nothing() {
        let mut out = String::from("x 1\n");
        BackendGauges::default().write_to(&mut out);
        assert_eq!(out, "x 1\n");
    }
}
