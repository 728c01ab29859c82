//! Shared vocabulary of sluicegate: cluster names, backend keys, the `EndpointSet`
//! view that balancing policies read, `PickKey`, and protocol enums.
//!
//! This crate sits at the bottom of the crate graph. It must not do I/O and must not
//! depend on tokio, hyper, rustls or serde_yaml.

mod endpoints;
mod names;

pub use endpoints::{EndpointSet, FULL_RAMP, PickKey};
pub use names::{BackendKey, ClusterName, ListenerName, Protocol};
