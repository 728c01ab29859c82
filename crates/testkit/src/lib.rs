//! Test-only helpers for sluicegate's integration tests: fake backends built on real
//! hyper 1 servers and real tokio sockets on `127.0.0.1:0` ([`Backend`]), a small HTTP
//! client whose every call is bounded by [`WAIT`] ([`client`]), the pattern bodies used
//! to check large transfers byte for byte ([`pattern`]), and the proxy started in
//! process from a YAML string ([`start_proxy`]). Backends can be killed and restarted
//! on the same address ([`Backend::kill`], [`Backend::named_on`]) or have their health
//! switched at run time ([`Backend::switchable`]), for health-check tests.
//!
//! This crate must only ever be a dev-dependency: its helpers panic on failure (that is
//! what a test wants) and it is not published. Every backend and proxy stops when its
//! handle is dropped, so a failing test leaves nothing running.

mod backend;
pub mod client;
mod echo;
mod load;
mod named;
pub mod pattern;
mod proxy;
mod raw;
mod sink;
mod switch;
mod wait;

pub use backend::Backend;
pub use client::{Conn, get, get_from, try_get};
pub use echo::{ECHO_END_TO_END_HEADER, ECHO_HOP_HEADERS, Echoed};
pub use load::Load;
pub use pattern::{PatternBody, pattern_digest};
pub use proxy::{Proxy, single_cluster, start_proxy};
pub use sluicegate_listener::DrainOutcome;
pub use sluicegate_runtime::BackendState;
pub use switch::{HEALTH_PATH, Switch};
pub use wait::{WAIT, eventually, eventually_async, init_tracing, within};
