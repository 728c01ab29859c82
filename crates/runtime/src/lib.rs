//! sluicegate's runtime: [`compile`] turns a validated `Config` into an immutable
//! [`Snapshot`] (route tables, one policy per cluster, per-backend state), and
//! [`SnapshotHandle`] publishes the live one (arc-swap plus a watch channel).
//!
//! [`Reload`] is the reload core every input goes through (parse → compile against
//! the running snapshot → diff → apply through [`Apply`], which the listener crate's
//! `Control` implements).
//!
//! The health supervisor ([`supervise`]) keeps one checker task per checked backend in
//! step with the live snapshot; checks go over the cluster's TLS (a `ClientTls` put
//! behind the health crate's `TlsClient`) and speak its protocol.
//!
//! The only crate that maps `*Spec` types into balance, routing and health parameters.
//! Must not depend on hyper: serving and forwarding belong to the http crate, pools to
//! the upstream crate.

mod apply;
mod backend;
mod check_transport;
mod cluster;
mod cluster_health;
mod compile;
mod discovered;
mod handle;
mod hash_key;
mod l4;
mod lazy_timer;
mod listener_tls;
mod origin;
mod previous;
mod ramp;
mod rate_limit;
mod reload;
mod reload_outcome;
mod retry;
mod self_target;
mod snapshot;
mod supervisor;
#[cfg(test)]
mod test_target;
mod trusted;
mod upstream_tls;

pub use apply::{Apply, ApplyError};
pub use backend::{Backend, BackendState, Carried, InFlightGuard};
pub use cluster::{Cluster, ClusterHealth};
pub use compile::{CompileError, compile};
pub use discovered::Discovered;
pub use handle::SnapshotHandle;
pub use hash_key::{HashKey, hash_ip, stable_hash};
pub use l4::{L4Listener, ProxyProtocolIn};
pub use lazy_timer::LazyTimer;
pub use listener_tls::ListenerTls;
pub use ramp::Ramp;
pub use rate_limit::{LimitKey, Limited, RateLimit, RateLimitParams};
pub use reload::{Reload, log_resolutions};
pub use reload_outcome::{Rejection, ReloadError, ReloadOutcome, Transient};
pub use retry::{BetweenAttempts, RetryGuard, RetryPolicy};
pub use snapshot::{Listener, Snapshot};
pub use supervisor::{HealthSupervisor, supervise};
pub use trusted::TrustedProxies;
pub use upstream_tls::UpstreamTls;
