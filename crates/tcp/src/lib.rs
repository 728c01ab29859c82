//! sluicegate's layer 4: one accepted `tcp` or `tls_passthrough` connection
//! forwarded to a backend of the cluster its listener (or, for passthrough, the
//! ClientHello's server name) routes it to, the bytes copied both ways untouched
//! until both sides close ([`serve`]), each connected session in a task of its own.
//!
//! Its place in the graph: beside `http`, below `listener`, which accepts the
//! connection, reads any PROXY header and the ClientHello, and hands the stream
//! here with the bytes it read ahead. It must not import `http` or `listener`
//! (checked by `.ci/crate-rules.sh`), parses no protocol, and must not panic on
//! anything a peer sends.

mod access;
mod connect;
mod running;
mod session;

pub use session::{Session, serve};
