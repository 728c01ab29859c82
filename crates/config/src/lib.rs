//! sluicegate's configuration: the YAML as written (`raw`), validated into plain,
//! typed `*Spec` values (`Config`), with every error collected and named by its YAML
//! path and, where known, line and column.
//!
//! This is the only crate that sees serde_yaml (behind [`from_yaml`]) and the
//! yaml-rust2 event parser (for the lines serde_yaml does not keep). It does no
//! I/O of its own (reading the file is the binary's job): environment variables and
//! backend host names are looked up through an [`Env`] and a [`Resolver`] the caller
//! hands in ([`parse`] hands in the process environment and [`system_resolver`]). It
//! must not depend on tokio, hyper or rustls.

mod admin;
mod backends;
mod cluster;
mod diff;
mod discovered;
mod discovery;
mod discovery_etcd;
mod discovery_spec;
mod dupes;
mod duration;
mod env;
mod error;
mod errors;
mod health;
mod health_spec;
mod l4_listener;
mod l4_spec;
mod listener_tls;
mod listeners;
mod locate;
mod names;
mod numbers;
mod path_rules;
mod paths;
mod policy;
mod policy_spec;
mod print;
mod proxy_protocol;
mod rate_limit;
pub mod raw;
mod resolutions;
mod resolve;
mod retries;
mod retry_spec;
mod route_match;
mod size;
mod spec;
mod tls_spec;
mod trusted;
mod upstream_protocol;
mod validate;
mod wording;
mod yaml;
mod yaml_path;

pub use diff::diff;
pub use discovered::{MAX_DISCOVERED, discovered_set};
pub use discovery_spec::{
    DiscoverySpec, DnsQuery, DnsSpec, EmptyAnswer, EtcdSpec, EtcdTlsSpec, SourceSpec,
    discovery_defaults,
};
pub use duration::parse_duration;
pub use env::Env;
pub use error::{ConfigError, ConfigErrors};
pub use health_spec::{
    CheckKind, HealthCheckSpec, HttpCheck, OutlierSpec, UnreachableSpec, health_defaults,
};
pub use ipnet::IpNet;
pub use l4_spec::{L4Spec, ProxyProtocolSpec, SniRouteSpec, l4_defaults};
pub use policy_spec::{HashOn, PolicySpec};
pub use print::{PrintError, to_yaml};
pub use resolve::{LOOKUP_TIMEOUT, Resolver, system_resolver};
pub use retry_spec::{RetryOn, RetrySpec, retry_defaults};
pub use spec::{
    AdminSpec, BackendSpec, ClusterSpec, Config, ConnectionRateSpec, EscapedSlashesSpec, HostMatch,
    LimitKey, ListenerSpec, MatchSpec, PathMatch, QueueSpec, RateLimitSpec, RouteSpec, defaults,
};
pub use tls_spec::{
    Alpn, CertificateSpec, ListenerTlsSpec, TlsVersion, UpstreamTlsSpec, tls_defaults,
};
pub use yaml::{from_yaml, from_yaml_with_env};

/// Parses and validates a YAML document into a [`Config`].
///
/// Every validation error is collected; a YAML syntax or shape error stops at the first.
/// `${VAR}` references are looked up in the process environment, and backend host
/// names with [`system_resolver`]: this blocks for the lookups (each at most
/// [`LOOKUP_TIMEOUT`], several at a time), so call it where blocking is allowed.
pub fn parse(yaml: &str) -> Result<Config, ConfigErrors> {
    parse_with(yaml, &|name| std::env::var(name).ok(), &system_resolver)
}

/// As [`parse`], with `${VAR}` references looked up by `env` instead of in the process
/// environment (for tests, or a caller with its own variables).
pub fn parse_with_env(yaml: &str, env: Env<'_>) -> Result<Config, ConfigErrors> {
    parse_with(yaml, env, &system_resolver)
}

/// As [`parse`], with `${VAR}` references looked up by `env` and backend host names
/// by `resolver` (each distinct `host:port` once; IP literals never).
pub fn parse_with(
    yaml: &str,
    env: Env<'_>,
    resolver: Resolver<'_>,
) -> Result<Config, ConfigErrors> {
    let raw = yaml::from_yaml_with_env(yaml, env)?;
    validate::validate(&raw, yaml, resolver)
}
