//! sluicegate's data plane: accept loops, HTTP/1.1 serving (hyper 1) and forwarding
//! over per-backend keep-alive pools on hyper's client connection API, the one module
//! that maps failures to statuses ([`status`]), graceful drain, and listener changes
//! applied live ([`Control`]).
//!
//! It reads the live [`sluicegate_runtime::Snapshot`] once per request and keeps that
//! `Arc` until the request ends. It must not depend on the config crate, must not
//! panic on anything a client or backend sends, and must not buffer whole bodies.

mod affinity;
mod body;
mod bound;
mod control;
mod counted;
mod forward;
mod headers;
mod phase;
mod pool;
mod proxy;
mod server;
mod shared;
pub mod status;
mod upstream;

pub use body::ProxyBody;
pub use control::Control;
pub use server::{DrainOutcome, ServeError, Server};
