//! sluicegate's data plane: accept loops, HTTP/1.1 serving (hyper 1) and forwarding
//! over per-backend keep-alive pools on hyper's client connection API, the one module
//! that maps failures to statuses ([`status`]), and graceful drain.
//!
//! It reads the live [`sluicegate_runtime::Snapshot`] once per request and keeps that
//! `Arc` until the request ends. It must not depend on the config crate, must not
//! panic on anything a client or backend sends, and must not buffer whole bodies.

mod affinity;
mod body;
mod forward;
mod headers;
mod pool;
mod proxy;
mod server;
pub mod status;
mod upstream;

pub use body::ProxyBody;
pub use server::{Control, DrainOutcome, ServeError, Server};
