//! sluicegate's service discovery: the backends of a cluster with a `discovery:`
//! block, looked up again and again (DNS A/AAAA records of a name, or SRV records),
//! each answer sent as an [`Update`] to the reload side, which serves it through the
//! reload core (`sluicegate_runtime::Reload::discovered`).
//!
//! One task per source ([`Sources`], `source.rs` with its lifecycle), made and stopped
//! as reloads add, change or remove discovered clusters. A source decides only when
//! to ask and what the answer was: it keeps no set, applies nothing, and never
//! touches the data plane; the last good set, the `empty:` rule, the counting and
//! the logging are the reload side's, in one place for every source.
//!
//! It must not depend on hyper, `listener`, `http` or `upstream`: what it knows of
//! the proxy is the config's vocabulary. DNS goes through hickory-resolver (an
//! in-process resolver: a TTL per answer, `/etc/resolv.conf` or a given server),
//! never the blocking `getaddrinfo` the config's one-time name lookups use.

mod backoff;
mod dns;
mod etcd;
mod source;
mod sources;
mod srv;
mod update;

pub use sources::{Sources, channel};
pub use update::{Answer, Update};
