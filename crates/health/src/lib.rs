//! sluicegate's backend health (DESIGN §4): the [`HealthCell`] every backend carries
//! (one atomic word the data plane reads with a relaxed load), active checks
//! ([`Check`], run by [`run_checker`] with [`Hysteresis`]), and passive outlier
//! ejection ([`Outlier`]).
//!
//! Depends on core and metrics only; it must not see the config (the runtime maps
//! `*Spec` into these parameter types) nor the balancing policies. Checks open their
//! own connections: they never touch the request pools. They speak the cluster's
//! protocol (HTTP/1.1 or HTTP/2, [`HttpProbe::h2`]) over the backend's [`Transport`];
//! TLS comes in as a [`TlsClient`] the runtime builds from the cluster's `tls:`, so
//! this crate needs neither rustls nor the tls crate. Nothing here runs on the request
//! path except the cell's loads and the passive counters.

mod cell;
mod check;
mod checker;
mod hysteresis;
mod outlier;
mod probe;
mod transport;
mod unreachable;

pub use cell::{CheckRecord, HealthCell, epoch};
pub use check::{Check, HttpProbe, Probe};
pub use checker::{jittered, run_checker};
pub use hysteresis::Hysteresis;
pub use outlier::{Outlier, schedule_readmission};
pub use probe::probe;
pub use transport::{CheckIo, CheckStream, Handshaking, TlsClient, Transport};
pub use unreachable::{Unreachable, mark_unreachable};
