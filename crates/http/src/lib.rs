//! sluicegate's layer 7: HTTP serving of one accepted connection (HTTP/1.1 requests
//! without a body in the connection's own task, the rest through hyper 1's HTTP/1.1
//! server behind the head guard that checks every request head before hyper sees it;
//! HTTP/2 through hyper's), and for each
//! request route → pick → send, with retries within the cluster's policy and budget,
//! the header rules (hop-by-hop, `X-Forwarded-*`, `Via`, `X-Request-Id`), affinity
//! keys, the access log, the one module that maps failures to statuses ([`status`],
//! in HTTP or gRPC form),
//! and HTTP/1.1 upgrades (WebSocket …): a connection whose request a backend answers
//! `101` becomes a byte tunnel between client and backend.
//!
//! Its place in the graph: above `upstream` (pools, [`Live`]) and `runtime`
//! (snapshots), below `listener`, which accepts connections and hands them to
//! [`serve()`]. It must not import `sluicegate-listener` (nor, later, `sluicegate-tcp`)
//! and must not depend on the config crate (checked by `.ci/crate-rules.sh`). It
//! reads the live snapshot once per request and keeps that `Arc` until the request
//! ends, must not panic on anything a client or backend sends, and must not buffer
//! whole bodies (a request body of up to 64 KiB is held for replay when retries are
//! on).

mod access;
mod addr_text;
mod affinity;
mod body;
mod chunk_scan;
mod client_body;
mod conn;
mod failure;
mod forward;
mod forwarded;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzz;
mod grpc;
mod h1_server;
mod h2_limits;
mod head_check;
mod head_clock;
mod head_guard;
mod headers;
mod identity;
mod live;
mod park;
mod proxy;
mod rate_limit;
mod refusal;
mod refusals;
mod rejected;
mod replay;
mod request_check;
mod send;
mod serve;
mod serve_h2;
pub mod status;
mod switching;
mod target;
mod tunnel;
mod upgrade;
mod upgrades;
mod upstream_head;
mod via;
mod window_wait;

pub use body::ProxyBody;
pub use client_body::BodyError;
pub use head_clock::{ClientTimeouts, DRAIN_GRACE};
pub use live::Live;
pub use replay::RequestBody;
pub use serve::{Accepted, HttpVersion, Source, serve};
