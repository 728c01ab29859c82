//! sluicegate's metrics vocabulary: every metric name as a constant ([`names`]), its
//! HELP text ([`describe`]), the bounded label values ([`CodeClass`], [`ErrorKind`],
//! [`ConnectReason`]) and the bundles of handles the data plane records into
//! ([`BackendSeries`], [`ListenerSeries`], [`CodeCounters`], [`ProcessSeries`]).
//!
//! It talks only to the `metrics` facade: whichever recorder is installed (the
//! binary installs the Prometheus exporter) receives the data; with none, every handle
//! is a no-op. It must not depend on an exporter, and must never take a per-client or
//! per-path label: every label value comes from the config or a fixed list.
//!
//! Series of an object that a reload removes must disappear from the exposition. The
//! exporter forgets a series that was not updated between two scrapes, so before each
//! scrape the binary [`touch`](BackendSeries::touch)es every series of the live config
//! (gauges are set from the live state then); series nobody touches any more expire.
//! Histograms cannot be touched without recording a sample, so they are looked up by
//! [`metrics::Key`] when recorded ([`histogram`]) instead of being held: a histogram
//! that expired while idle is created again by its next sample.

mod describe;
mod labels;
pub mod names;
mod series;

pub use describe::describe;
pub use labels::{CodeClass, ConnectReason, ErrorKind};
pub use series::{BackendSeries, CodeCounters, ListenerSeries, ProcessSeries, histogram};
