//! sluicegate's data plane: accept loops, HTTP/1.1 serving (hyper 1) and forwarding
//! over per-backend keep-alive pools on hyper's client connection API, the one module
//! that maps failures to statuses ([`status`]), graceful drain, and listener changes
//! applied live ([`Control`]), retries within the cluster's policy and budget, and
//! the outlier detector fed by every exchange.
//!
//! It reads the live [`sluicegate_runtime::Snapshot`] once per request and keeps that
//! `Arc` until the request ends. It must not depend on the config crate, must not
//! panic on anything a client or backend sends, and must not buffer whole bodies (a
//! request body of up to 64 KiB is held for replay when retries are on).

mod access;
mod affinity;
mod attempts;
mod body;
mod bound;
mod chunk_scan;
mod client_body;
mod control;
mod counted;
mod forward;
mod head_check;
mod head_guard;
mod headers;
mod identity;
mod phase;
mod proxy;
mod refusal;
mod rejected;
mod replay;
mod server;
mod shared;
pub mod status;
mod target;
mod via;

pub use body::ProxyBody;
pub use control::Control;
pub use server::{DrainOutcome, ServeError, Server};
