//! Shared vocabulary of sluicegate: cluster names, backend keys, the `EndpointSet`
//! view that balancing policies read, `PickKey`, protocol enums, and `FailedAt`
//! (where a request failed, which decides what may follow), and [`worker`]: which
//! worker thread the caller is on.
//!
//! This crate sits at the bottom of the crate graph. It must not do I/O and must not
//! depend on tokio, hyper, rustls or serde_yaml.

mod endpoints;
mod failure;
mod names;
pub mod worker;

pub use endpoints::{EndpointSet, FULL_RAMP, PickKey};
pub use failure::{AfterSend, FailedAt};
pub use names::{BackendKey, ClusterName, ListenerName, Protocol, ProxyVersion, UpstreamProtocol};
