//! Load-balancing policies for sluicegate behind one [`Policy`] trait, dispatched
//! through [`AnyPolicy`] because the YAML picks the policy at run time.
//!
//! Synchronous and allocation-free on the hot path: `pick` takes `&self`, never locks,
//! awaits or allocates; mutable state is atomics; tables are built in constructors.
//! Must not depend on tokio, hyper, rustls or the config crate (the runtime maps specs
//! into the constructors here).

mod any;
mod bounded;
mod hash;
mod ip_hash;
mod least_connections;
mod load;
mod maglev;
mod members;
mod p2c;
mod policy;
mod random;
mod ring_hash;
mod round_robin;
#[cfg(test)]
pub(crate) mod testing;
mod weighted;

pub use any::AnyPolicy;
pub use bounded::MIN_BALANCE_FACTOR;
pub use hash::{SEED, stable_hash};
pub use ip_hash::IpHash;
pub use least_connections::LeastConnections;
pub use maglev::{DEFAULT_TABLE_SIZE, MAX_TABLE_SIZE, Maglev};
pub use p2c::PowerOfTwo;
pub use policy::{Policy, probe_from};
pub use random::Random;
pub use ring_hash::{MAX_RING_POINTS, RingHash};
pub use round_robin::RoundRobin;
pub use weighted::{Sampler, admit};
