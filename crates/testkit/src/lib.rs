//! Test-only helpers for sluicegate's integration tests: fake backends built on real
//! hyper 1 servers and real tokio sockets on `127.0.0.1:0` ([`Backend`]), a small HTTP
//! client whose every call is bounded by [`WAIT`] ([`client`]), the pattern bodies used
//! to check large transfers byte for byte ([`pattern`]), and the proxy started in
//! process from a YAML string ([`start_proxy`]). Backends can be killed and restarted
//! on the same address ([`Backend::kill`], [`Backend::named_on`]), serve `localhost` on
//! both loopback addresses ([`Backend::named_localhost`]) or have their health
//! switched at run time ([`Backend::switchable`]), for health-check tests. For
//! upgrades: a WebSocket echo backend ([`Backend::websocket`]) and client
//! ([`WsClient`]), and raw upgraded tunnels ([`Backend::upgrading`], [`upgrade`]). For
//! HTTP/2 abuse: a client that writes frames as built ([`RawH2`], [`h2_frames`]). For
//! service discovery: a DNS server whose records change under test ([`DnsServer`]) and
//! a real etcd ([`Etcd`]).
//!
//! The process-level tests of the binary run on std threads, without a tokio runtime,
//! against a real `sluicegate run` child ([`ProcessProxy`], whose binary path the test
//! passes in): the same [`Backend`]s run for them on a thread of their own
//! ([`Detached`]); they talk to the process with a blocking client ([`blocking`]),
//! write its config files ([`process_config`], [`save`], [`Scribbler`]), signal and
//! wait for child processes ([`signal`], [`wait_exit`], [`lines_of`]) and poll with a
//! deadline on their own thread ([`poll`], bounded by [`PROCESS_WAIT`] or
//! [`APPLIED`]).
//!
//! This crate must only ever be a dev-dependency: its helpers panic on failure (that is
//! what a test wants) and it is not published. Every backend, proxy and process stops
//! when its handle is dropped, so a failing test leaves nothing running.

mod backend;
pub mod blocking;
mod child;
pub mod client;
mod detached;
mod dns;
mod echo;
mod etcd;
mod files;
mod grpc;
mod h2_backend;
mod h2_client;
pub mod h2_frames;
mod l4;
mod load;
mod named;
pub mod pattern;
mod ports;
mod process;
mod proxy;
mod raw;
mod sink;
mod switch;
mod tls;
pub mod upgrading;
mod wait;
mod websocket;

pub use backend::Backend;
pub use child::{lines_of, signal, wait_exit};
pub use client::{Conn, get, get_from, try_get};
pub use detached::Detached;
pub use dns::{DnsServer, Srv};
pub use echo::{ECHO_END_TO_END_HEADER, ECHO_HOP_HEADERS, Echoed, dechunked};
pub use etcd::Etcd;
pub use files::{Scribbler, process_config, save};
pub use grpc::{grpc_message, streaming_body};
pub use h2_client::H2Conn;
pub use h2_frames::{Frame, RawH2};
pub use load::Load;
pub use pattern::{Digest, PatternBody, pattern_digest};
pub use ports::{RefusingPort, free_port};
pub use process::{ProcessProxy, Serving, log_seconds};
pub use proxy::{Proxy, single_cluster, start_proxy, start_proxy_on};
pub use raw::STALLED_BODY;
pub use sluicegate_listener::{DrainOutcome, Workers};
pub use sluicegate_runtime::BackendState;
pub use switch::{HEALTH_PATH, Switch};
pub use tls::{TestCert, TlsServed, tls_connect};
pub use upgrading::upgrade;
pub use wait::{
    APPLIED, PROCESS_WAIT, WAIT, eventually, eventually_async, init_tracing, poll, within,
};
pub use websocket::{Message, WsClient};
