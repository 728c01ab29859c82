//! sluicegate's upstream side: per-backend pools in the cluster's protocol
//! ([`BackendPool`]: HTTP/1.1 keep-alive stacks in [`pool`], requests without a body
//! read in the request's own task by the in-task client (`direct.rs`), multiplexed HTTP/2
//! connections in [`H2Pool`]) over one connector (TCP, then TLS: [`Connector`]), one
//! pool per backend aligned with a snapshot's clusters
//! ([`upstreams`]), and [`Live`]: the data plane's view of a snapshot together with
//! its pools, read once per request.
//!
//! Its place in the graph: below `http` (and, later, `tcp`), above `runtime` and
//! `core`. It must not import `sluicegate-http` or `sluicegate-listener` (checked by
//! `.ci/crate-rules.sh`): the pools are generic over the request body ([`SendBody`]),
//! so the retry buffer and the response body of the layer above stay up there. It
//! does no routing, no retries and no header rewriting, and must not panic on
//! anything a backend sends.

mod added_fields;
mod backend_pool;
mod body_stall;
mod connector;
mod direct;
mod field_names;
mod h2_pool;
mod h2_request;
mod lease;
pub mod live;
mod outgoing;
pub mod pool;
mod queue;
pub mod send_error;
pub mod short_head;
pub mod spare_maps;
mod upstream_body;
pub mod upstreams;

pub use added_fields::AddedFields;
pub use backend_pool::BackendPool;
pub use connector::{Connector, UpstreamStream};
pub use direct::DirectBody;
pub use field_names::FieldNames;
pub use h2_pool::{H2Pool, StreamSlot};
pub use lease::Lease;
pub use live::{Live, LiveCluster};
pub use outgoing::{ClientKey, Outgoing};
pub use pool::{Pool, SendBody};
pub use queue::Limit;
pub use send_error::{SendError, SendFailure};
pub use upstream_body::{BodyError, HyperBody, UpstreamBody};
pub use upstreams::{BackendUpstream, ClusterUpstream, Upstreams};
