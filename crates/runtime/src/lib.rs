//! sluicegate's runtime: [`compile`] turns a validated `Config` into an immutable
//! [`Snapshot`] (route tables, one policy per cluster, per-backend state), and
//! [`SnapshotHandle`] publishes the live one (arc-swap plus a watch channel).
//!
//! The only crate that maps `*Spec` types into balance and routing parameters. Must not
//! depend on hyper: serving and forwarding belong to the listener crate.

mod backend;
mod cluster;
mod compile;
mod handle;
mod hash_key;
mod ramp;
mod snapshot;

pub use backend::{Backend, BackendState, Carried, InFlightGuard};
pub use cluster::Cluster;
pub use compile::{CompileError, compile};
pub use handle::SnapshotHandle;
pub use hash_key::{HashKey, hash_ip, stable_hash};
pub use ramp::Ramp;
pub use snapshot::{Listener, Snapshot};
