//! The YAML as written: every field optional where the user may omit it, unknown keys
//! rejected. [`crate::from_yaml`] is the entry point; serde_yaml is called only behind it
//! (in `yaml.rs` and `env.rs`), so a maintained fork can replace it in those files.

use std::collections::BTreeMap;

use serde::Deserialize;

mod discovery;
mod l4;
pub use discovery::{RawDiscovery, RawDns, RawEtcd, RawEtcdTls};
pub use l4::RawProxyProtocol;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Listeners by name.
    #[serde(default)]
    pub listeners: BTreeMap<String, RawListener>,
    /// Clusters by name.
    #[serde(default)]
    pub clusters: BTreeMap<String, RawCluster>,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub drain_timeout: Option<String>,
    /// Log one line per request.
    pub access_log: Option<bool>,
    /// How the config file is watched.
    pub reload: Option<RawReload>,
    /// The admin listener (metrics, status, reload, drain).
    pub admin: Option<RawAdmin>,
    /// Client connections the whole process may have open at once.
    pub max_connections: Option<i64>,
}

/// `admin:`: the admin listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// `IP:port` to bind.
    pub address: Option<String>,
    /// Allow a non-loopback address.
    pub allow_remote: Option<bool>,
    /// Record and expose Prometheus metrics.
    pub metrics: Option<bool>,
    /// `IP:port` of a read-only listener for probes and scrapes.
    pub health_address: Option<String>,
    /// Path of the Unix socket a new binary takes the listening sockets from.
    pub upgrade_socket: Option<String>,
}

/// `reload:`: how changes to the config file are picked up.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReload {
    /// Quiet time after the last file event before reloading.
    pub debounce: Option<String>,
}

/// One entry under `listeners:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListener {
    /// `IP:port` to bind.
    pub address: String,
    /// `http` (the default), `tcp` or `tls_passthrough`.
    pub protocol: Option<String>,
    /// Time an upgraded connection may stay without traffic before it is closed.
    pub tunnel_idle_timeout: Option<String>,
    /// Time a client connection may go without a new request.
    pub keepalive_timeout: Option<String>,
    /// Time a client has to send a whole request head (HTTP/1).
    pub header_read_timeout: Option<String>,
    /// Longest wait for the next bytes of a request body (HTTP/1).
    pub request_body_timeout: Option<String>,
    /// Longest wait for a client to take the bytes written to it.
    pub send_timeout: Option<String>,
    /// Client connections this listener may have open at once.
    pub max_connections: Option<i64>,
    /// New connections a second from one client address.
    pub connection_rate_limit: Option<RawConnectionRate>,
    /// Largest request body accepted.
    pub max_request_body: Option<RawSize>,
    /// Routes, first match wins.
    #[serde(default)]
    pub routes: Vec<RawRoute>,
    /// Peers (CIDRs or addresses) whose forwarding headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// Merge runs of `/` in request paths (default true).
    pub merge_slashes: Option<bool>,
    /// `keep`, `reject` or `decode` encoded slashes in request paths.
    pub escaped_slashes: Option<String>,
    /// TLS termination.
    pub tls: Option<RawTls>,
    /// `tcp`: the cluster every connection goes to.
    pub cluster: Option<String>,
    /// `tls_passthrough`: the cluster for no SNI or an SNI no route matches.
    pub default_cluster: Option<String>,
    /// `tcp`, `tls_passthrough`: time a session may pass no byte either way.
    pub idle_timeout: Option<String>,
    /// `tls_passthrough`: time a client has to send its ClientHello.
    pub handshake_timeout: Option<String>,
    /// PROXY protocol in.
    pub proxy_protocol: Option<RawProxyProtocol>,
}

/// `tls:` of a cluster: TLS to its backends.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamTls {
    /// Server name sent and verified.
    pub sni: Option<String>,
    /// Whether the backend's certificate is verified.
    pub verify: Option<bool>,
    /// PEM file of the CAs trusted instead of the system's.
    pub ca: Option<String>,
}

/// `tls:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// Certificate chains with their keys.
    #[serde(default)]
    pub certificates: Vec<RawCertificate>,
    /// The `cert` file of the certificate for clients without (known) SNI.
    pub default_certificate: Option<String>,
    /// `"1.2"` or `"1.3"`.
    pub min_version: Option<RawScalar>,
    /// ALPN protocols offered, preferred first.
    pub alpn: Option<Vec<String>>,
    /// Time a client gets for its handshake.
    pub handshake_timeout: Option<String>,
}

/// One `{ cert, key }` of `tls.certificates`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCertificate {
    /// PEM chain file.
    pub cert: String,
    /// PEM private key file.
    pub key: String,
}

/// A scalar written as text or as a number (`min_version: 1.2` is a YAML float).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawScalar {
    /// `"1.2"`.
    Text(String),
    /// `1.2`.
    Number(f64),
}

impl RawScalar {
    /// As written (a number in its shortest form).
    pub fn text(&self) -> String {
        match self {
            RawScalar::Text(text) => text.clone(),
            RawScalar::Number(n) => n.to_string(),
        }
    }
}

/// One route of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    /// Conditions; absent means "everything".
    #[serde(rename = "match")]
    pub matcher: Option<RawMatch>,
    /// Target cluster name.
    pub cluster: String,
    /// Requests a second per key.
    pub rate_limit: Option<RawRateLimit>,
}

/// `rate_limit:` of a route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Tokens added a second.
    pub requests_per_second: Option<i64>,
    /// Bucket size.
    pub burst: Option<i64>,
    /// What a bucket is per.
    pub key: Option<RawLimitKey>,
}

/// `connection_rate_limit:` of a listener: a token bucket per client address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConnectionRate {
    /// Tokens added a second.
    pub connections_per_second: Option<i64>,
    /// Bucket size.
    pub burst: Option<i64>,
}

/// `key:` of a rate limit: `source_ip`, `route`, or `{ header: NAME }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawLimitKey {
    /// `source_ip` or `route`.
    Name(String),
    /// `{ header: NAME }`.
    Header {
        /// The header whose value is the key.
        header: String,
    },
}

/// Conditions of a route; all given ones must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    /// Exact host or `*.suffix` wildcard.
    pub host: Option<String>,
    /// Segment-aware path prefix.
    pub path_prefix: Option<String>,
    /// Exact path.
    pub path: Option<String>,
    /// Allowed methods.
    pub methods: Option<Vec<String>>,
    /// Header name to exact value.
    pub headers: Option<BTreeMap<String, String>>,
    /// `tls_passthrough`: the ClientHello's server name, exact or `*.suffix`.
    pub sni: Option<String>,
}

/// One entry under `clusters:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// Balancing policy name.
    pub policy: Option<String>,
    /// Time allowed to open a TCP connection to a backend.
    pub connect_timeout: Option<String>,
    /// Time allowed from sending the request to receiving the response head.
    pub response_timeout: Option<String>,
    /// Time allowed between two reads of a response body.
    pub response_body_timeout: Option<String>,
    /// How long an unused upstream connection stays in the pool.
    pub idle_timeout: Option<String>,
    /// Most connections open at once to each backend (HTTP/1.1).
    pub max_connections: Option<i64>,
    /// Most requests waiting for a connection to each backend.
    pub max_pending: Option<i64>,
    /// Longest wait for a connection to a backend.
    pub queue_timeout: Option<String>,
    /// `http1`, `h2` or `h2c`.
    pub upstream_protocol: Option<String>,
    /// PING interval on idle HTTP/2 upstream connections.
    pub h2_keepalive: Option<String>,
    /// TLS to the backends.
    pub tls: Option<RawUpstreamTls>,
    /// Hash key of `ip_hash`, `ring_hash` and `maglev`.
    pub hash_on: Option<RawHashOn>,
    /// `ring_hash` parameters.
    pub ring: Option<RawRing>,
    /// `maglev` parameters.
    pub maglev: Option<RawMaglev>,
    /// Bounded loads for `ring_hash` and `maglev`, in percent of the average.
    pub hash_balance_factor: Option<i64>,
    /// Ramp-up window of a backend that joins.
    pub slow_start: Option<String>,
    /// Active health checks.
    pub health_check: Option<RawHealthCheck>,
    /// Passive health checks (outlier ejection).
    pub outlier: Option<RawOutlier>,
    /// Quick ejection of a backend that refuses connections or stops answering.
    pub unreachable: Option<RawUnreachable>,
    /// Healthy share below which the cluster balances over all its backends.
    pub panic_threshold: Option<RawPercent>,
    /// Retries of failed requests.
    pub retries: Option<RawRetries>,
    /// PROXY protocol header sent on each upstream connection: `v1` or `v2`.
    pub send_proxy_protocol: Option<String>,
    /// The backends.
    #[serde(default)]
    pub backends: Vec<RawBackend>,
    /// Where the backends come from instead of `backends:`.
    pub discovery: Option<RawDiscovery>,
}

/// `health_check:` of a cluster.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthCheck {
    /// `http` (the default) or `tcp`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Path of an HTTP check.
    pub path: Option<String>,
    /// Method of an HTTP check.
    pub method: Option<String>,
    /// `Host` header of an HTTP check.
    pub host: Option<String>,
    /// Statuses that pass: codes or `LOW-HIGH` ranges.
    pub expect_status: Option<Vec<RawStatus>>,
    /// Time between checks.
    pub interval: Option<String>,
    /// Time one check may take.
    pub timeout: Option<String>,
    /// Consecutive passes that turn a backend healthy.
    pub rise: Option<i64>,
    /// Consecutive failures that turn a backend unhealthy.
    pub fall: Option<i64>,
    /// Random spread of each interval.
    pub jitter: Option<RawPercent>,
    /// `healthy` or `unhealthy`: the state of a backend before its first checks.
    pub initial_state: Option<String>,
}

/// A status code or a `LOW-HIGH` range.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawStatus {
    /// `200`.
    Code(i64),
    /// `200-399`.
    Range(String),
}

/// A size in bytes written `1048576` or `10MiB`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawSize {
    /// `1048576`.
    Number(i64),
    /// `10MiB`.
    Text(String),
}

/// A percentage written `20%` or `20`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawPercent {
    /// `20`.
    Number(f64),
    /// `20%`.
    Text(String),
}

/// `outlier:` of a cluster.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutlier {
    /// Failures in a row that eject a backend.
    pub consecutive_failures: Option<i64>,
    /// Ejection time of a first ejection.
    pub base_ejection: Option<String>,
    /// Longest ejection time.
    pub max_ejection: Option<String>,
    /// Largest share of the cluster ejected at once.
    pub max_ejected_percent: Option<RawPercent>,
}

/// `unreachable:` of a cluster.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUnreachable {
    /// Time a backend is skipped after one connect failure or response timeout.
    pub ejection: Option<String>,
    /// Longest such time (it doubles while the backend keeps failing).
    pub max_ejection: Option<String>,
}

/// `retries:` of a cluster.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetries {
    /// Retries after the first try.
    pub attempts: Option<i64>,
    /// Conditions that are retried: `connect_failure`, `reset`, `timeout` or a 5xx code.
    pub on: Option<Vec<RawStatus>>,
    /// Retries in flight as a share of the cluster's active requests.
    pub budget: Option<RawPercent>,
    /// Retries in flight always allowed, whatever the budget.
    pub min_concurrent: Option<i64>,
    /// Pause before a retry.
    pub backoff: Option<String>,
}

/// `hash_on:` either a name (`source_ip`, `path`) or a one-key map
/// (`{ header: NAME }`, `{ cookie: NAME }`, `{ query: NAME }`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawHashOn {
    /// `source_ip` or `path`.
    Name(String),
    /// `header`, `cookie` or `query` with the name to read.
    Keyed(BTreeMap<String, String>),
}

/// `ring:` of a `ring_hash` cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRing {
    /// Ring points per unit of weight.
    pub points_per_weight: Option<i64>,
}

/// `maglev:` of a `maglev` cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaglev {
    /// Lookup table size; must be prime.
    pub table_size: Option<i64>,
}

/// One backend of a cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBackend {
    /// `IP:port`, or `host:port` for every address the name resolves to.
    pub address: String,
    /// Relative weight, 1 to 10000.
    pub weight: Option<i64>,
    /// Marked down by the operator: kept in the config, never picked.
    #[serde(default)]
    pub down: bool,
}
