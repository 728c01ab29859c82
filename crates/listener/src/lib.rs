//! sluicegate's listeners: binding, accept loops, graceful drain, listener changes
//! applied live ([`Control`]), and the per-connection pipeline that hands each
//! accepted connection to a protocol: TLS termination (`sluicegate-tls`), then
//! HTTP/1.1 or HTTP/2 by ALPN or the client's preface, served by `sluicegate-http`.
//! The pipeline is the seam where PROXY protocol and L4 forwarding will sit too.
//!
//! Its place in the graph: the top of the data plane, the only crate that will know
//! both protocols (`http` and, later, `tcp`). It must not depend on the config crate,
//! must not parse HTTP itself, and must not panic on anything a client sends.
//! `http` and `upstream` never import it (checked by `.ci/crate-rules.sh`).

mod accept_backoff;
mod admission;
mod apply;
mod bound;
mod control;
mod counted;
mod error;
mod inherited;
mod layer4;
mod phase;
mod pipeline;
mod send_timeout;
mod server;
mod shared;
mod sniff;
mod sockets;
mod workers;

pub use control::Control;
pub use error::ServeError;
pub use inherited::Inherited;
pub use server::{DrainOutcome, Server};
pub use workers::Workers;
