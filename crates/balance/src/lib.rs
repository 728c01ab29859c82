//! Load-balancing policies for sluicegate behind one [`Policy`] trait, dispatched
//! through [`AnyPolicy`] because the YAML picks the policy at run time.
//!
//! Synchronous and allocation-free on the hot path: `pick` takes `&self`, never locks,
//! awaits or allocates; mutable state is atomics; tables are built in constructors.
//! Must not depend on tokio, hyper, rustls or the config crate (the runtime maps specs
//! into the constructors here).

mod any;
mod hash;
mod ip_hash;
mod least_connections;
mod load;
mod p2c;
mod policy;
mod random;
mod round_robin;
#[cfg(test)]
pub(crate) mod testing;
mod weighted;

pub use any::AnyPolicy;
pub use hash::{SEED, stable_hash};
pub use ip_hash::IpHash;
pub use least_connections::LeastConnections;
pub use p2c::PowerOfTwo;
pub use policy::{Policy, probe_from};
pub use random::Random;
pub use round_robin::RoundRobin;
pub use weighted::{Sampler, admit};
