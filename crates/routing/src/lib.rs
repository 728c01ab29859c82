//! sluicegate's compiled L7 route table: host, path, method and header matches, first
//! match wins, resolving to a cluster index; the path normalisation that runs
//! before it ([`normalize`]), so routes see the path the backend will see; and the
//! server-name table of TLS passthrough listeners ([`SniTable`]).
//!
//! Pure and synchronous; it reads `http` request heads and server names only. Must not depend on tokio,
//! hyper, rustls or the config crate: the runtime builds [`Route`]s from specs.

mod host;
mod matcher;
mod normalize;
mod sni;
mod table;

pub use host::request_host;
pub use matcher::{HostPattern, Matcher, PathPattern};
pub use normalize::{EscapedSlashes, PathError, PathRules, normalize};
pub use sni::SniTable;
pub use table::{Route, RouteTable};
