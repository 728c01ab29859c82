//! sluicegate's metrics vocabulary: every metric name as a constant ([`names`]), its
//! HELP text ([`describe`]), the bounded label values ([`CodeClass`], [`ErrorKind`],
//! [`ConnectReason`]) and the bundles of handles the data plane records into
//! ([`BackendSeries`], [`ListenerSeries`], [`CodeCounters`], [`ProcessSeries`],
//! [`HealthSeries`], [`RetrySeries`], [`TlsSeries`], [`DiscoverySeries`], and the layer-4 sessions'
//! [`L4ListenerSeries`] and [`UpstreamBytes`]).
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
//! Histograms cannot be touched without recording a sample, so an idle one expires
//! even while its object lives; right after each scrape the binary renews every live
//! histogram handle ([`HistogramCell::renew`]), so the next sample lands in a
//! histogram the exporter knows.
//!
//! At fleet size (tens of thousands of backends) zeros would fill the scrape: a
//! backend's counters ([`LazyCounter`]), the counters of a listener's answers for one
//! cluster, and every histogram are registered at their first sample, so only what
//! ever moved is exported. A listener's own counters are registered at once and show
//! 0 from the start. Each backend's two gauges are not registered at all: they are
//! written from the live state at each scrape ([`BackendGauges`]).

mod backend_gauges;
mod body_errors;
mod buckets;
mod describe;
mod discovery;
mod health;
mod labels;
mod lazy;
pub mod names;
#[cfg(test)]
mod recorded;
mod series;
mod sessions;
mod text;
mod tls;

pub use backend_gauges::BackendGauges;
pub use body_errors::{BodyErrorReason, BodyErrors};
pub use buckets::BucketHistograms;
pub use lazy::LazyCounter;

pub use describe::describe;
pub use discovery::{DiscoveryResult, DiscoverySeries};
pub use health::{HealthSeries, RetryReason, RetrySeries};
pub use labels::{CodeClass, ConnectReason, ConnectionLimit, ErrorKind, RejectReason};
pub use series::{
    BackendSeries, CodeCounters, HistogramCell, ListenerSeries, ProcessSeries, histogram,
};
pub use sessions::{L4ListenerSeries, L4Refusal, SessionEnd, UpstreamBytes};
pub use tls::TlsSeries;
