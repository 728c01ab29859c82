//! Validated config: typed, defaults applied, references checked. Plain data, no handles.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use sluicegate_core::{ClusterName, ListenerName, Protocol, ProxyVersion, UpstreamProtocol};

use crate::discovery_spec::DiscoverySpec;
use crate::health_spec::{HealthCheckSpec, OutlierSpec, UnreachableSpec};
use crate::l4_spec::{L4Spec, ProxyProtocolSpec};
use crate::policy_spec::PolicySpec;
use crate::retry_spec::RetrySpec;
use crate::tls_spec::{ListenerTlsSpec, UpstreamTlsSpec};

/// Default values of every optional key, in one place (documented in the README).
pub mod defaults {
    use std::time::Duration;

    /// `drain_timeout`: Kubernetes' default grace period is 30 s.
    pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
    /// `reload.debounce`: editors write a file in several steps within a few ms; 200 ms
    /// turns a save into one reload and still feels immediate.
    pub const RELOAD_DEBOUNCE: Duration = Duration::from_millis(200);
    /// `admin.address`: Envoy's conventional admin port, loopback only.
    pub const ADMIN_ADDRESS: std::net::SocketAddr =
        std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9901);
    /// `clusters.*.connect_timeout`: Envoy's default; a local backend connects in microseconds.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// `clusters.*.response_timeout`: time to the response head, generous for slow APIs.
    pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
    /// `clusters.*.response_body_timeout`: nginx's `proxy_read_timeout`, between two
    /// reads of a response body; the request side's `request_body_timeout` mirrored.
    pub const RESPONSE_BODY_TIMEOUT: Duration = Duration::from_secs(60);
    /// `clusters.*.idle_timeout`: nginx's upstream `keepalive_timeout` default.
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// `listeners.*.tunnel_idle_timeout`: an upgraded connection (WebSocket) with no
    /// byte either way for an hour is taken as abandoned; chat and push sockets that
    /// ping every few minutes stay open.
    pub const TUNNEL_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
    /// `listeners.*.keepalive_timeout`: nginx's `keepalive_timeout` is 75 s, Envoy's
    /// and HAProxy's HTTP/2 idle timeouts are longer; a minute without a request
    /// frees the connection of a client that went away without closing it.
    pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(60);
    /// `listeners.*.header_read_timeout`: a total deadline for one request head, as
    /// hyper's default and below nginx's `client_header_timeout` (60 s); HAProxy's
    /// anti-DoS example uses 5 s.
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// `listeners.*.request_body_timeout`: nginx's `client_body_timeout`, between two
    /// reads of a request body.
    pub const REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(60);
    /// `listeners.*.send_timeout`: nginx's `send_timeout`, between two writes a client
    /// takes.
    pub const SEND_TIMEOUT: Duration = Duration::from_secs(60);
    /// `listeners.*.max_connections`: Envoy's and the bar; nginx's
    /// `worker_connections` is 512 per worker, HAProxy derives `maxconn` from the fd
    /// limit.
    pub const LISTENER_MAX_CONNECTIONS: u32 = 10_000;
    /// `clusters.*.max_pending`: Envoy's `max_pending_requests` default.
    pub const MAX_PENDING: u32 = 1024;
    /// `clusters.*.backends[*].weight`.
    pub const WEIGHT: u32 = 1;
    /// Largest accepted weight: keeps weighted tables small and sums far from overflow.
    pub const MAX_WEIGHT: u32 = 10_000;
    /// `ring.points_per_weight`: Ketama's classic 160 points per server.
    pub const RING_POINTS_PER_WEIGHT: u32 = 160;
    /// Largest `ring.points_per_weight`: beyond it lookups gain nothing but memory.
    pub const MAX_RING_POINTS_PER_WEIGHT: u32 = 1_000;
    /// `maglev.table_size`: the Maglev paper's and Envoy's default, a prime.
    pub const MAGLEV_TABLE_SIZE: u32 = 65_537;
    /// Largest `maglev.table_size`: Envoy's limit; the table is 4 bytes per entry.
    pub const MAX_MAGLEV_TABLE_SIZE: u32 = 5_000_011;
}

/// A whole validated config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Listeners, sorted by name.
    pub listeners: Vec<ListenerSpec>,
    /// Clusters, sorted by name.
    pub clusters: Vec<ClusterSpec>,
    /// Time in-flight requests get to finish on SIGTERM.
    pub drain_timeout: Duration,
    /// Whether to log one line per request.
    pub access_log: bool,
    /// Quiet time after the last config-file event before a reload (`reload.debounce`).
    pub reload_debounce: Duration,
    /// The admin listener.
    pub admin: AdminSpec,
    /// Client connections the whole process may have open at once (`None`: only the
    /// listeners' limits apply).
    pub max_connections: Option<u32>,
}

/// The admin listener (`admin:`). Read at start-up; a reload does not move it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminSpec {
    /// Where it binds (loopback unless `allow_remote`).
    pub address: SocketAddr,
    /// Whether a non-loopback address was allowed explicitly.
    pub allow_remote: bool,
    /// Whether Prometheus metrics are recorded and served on `/metrics`.
    pub metrics: bool,
    /// A second, read-only listener serving only `/healthz`, `/ready` and `/metrics`,
    /// on any address (it can change nothing): for Kubernetes probes and Prometheus
    /// while the admin API stays on loopback. `None`: none.
    pub health_address: Option<SocketAddr>,
    /// The Unix socket a running process hands its listening sockets over on, to a
    /// new one started with `run --upgrade` (a binary upgrade without a refused
    /// connection). Relative: to the config file's directory. `None`: no upgrade.
    pub upgrade_socket: Option<PathBuf>,
}

impl Default for AdminSpec {
    fn default() -> Self {
        Self {
            address: defaults::ADMIN_ADDRESS,
            health_address: None,
            upgrade_socket: None,
            allow_remote: false,
            metrics: true,
        }
    }
}

impl Config {
    /// Number of backends over all clusters.
    pub fn backend_count(&self) -> usize {
        self.clusters.iter().map(|c| c.backends.len()).sum()
    }

    /// The cluster with this name.
    pub fn cluster(&self, name: &str) -> Option<&ClusterSpec> {
        self.clusters.iter().find(|c| c.name.as_str() == name)
    }
}

/// One listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerSpec {
    /// Its name.
    pub name: ListenerName,
    /// Where it binds.
    pub address: SocketAddr,
    /// What it speaks.
    pub protocol: Protocol,
    /// How long an upgraded connection (a tunnel: WebSocket …) may pass no byte
    /// either way before it is closed.
    pub tunnel_idle_timeout: Duration,
    /// Time a client connection may go without a new request before it is closed
    /// (HTTP/1: closed; HTTP/2: GOAWAY, open streams finish).
    pub keepalive_timeout: Duration,
    /// HTTP/1: time from the first byte of a request head (or from the connection's
    /// accept, for its first request) to its end; past it the client gets 408 and the
    /// connection is closed (closed silently when nothing of a head came).
    pub header_read_timeout: Duration,
    /// HTTP/1: longest wait for the next bytes of a request body that is being read;
    /// past it the request fails (408 when nothing was answered yet).
    pub request_body_timeout: Duration,
    /// Longest a write to a client may wait for the client to take bytes (it reads
    /// too slowly, or not at all); past it the connection is closed.
    pub send_timeout: Duration,
    /// Client connections it may have open at once; past it a new one is closed at
    /// once (and counted).
    pub max_connections: u32,
    /// New connections a second from one client address (`None`: any); past it a new
    /// one is closed at once (and counted).
    pub connection_rate_limit: Option<ConnectionRateSpec>,
    /// Largest request body accepted, in bytes (`None`: any); a larger one gets 413.
    pub max_request_body: Option<u64>,
    /// Routes, first match wins.
    pub routes: Vec<RouteSpec>,
    /// Peers whose `X-Forwarded-*`, `X-Real-IP` and `X-Request-Id` are kept and
    /// believed; from any other peer they are replaced. Empty: nobody is trusted.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether runs of `/` in request paths are merged before routing.
    pub merge_slashes: bool,
    /// What becomes of `%2F` and `%5C` in request paths.
    pub escaped_slashes: EscapedSlashesSpec,
    /// TLS termination; `None`: cleartext.
    pub tls: Option<ListenerTlsSpec>,
    /// What a `tcp` or `tls_passthrough` listener forwards to; `None` for `http`
    /// (whose HTTP-only keys above then keep their defaults, unused).
    pub l4: Option<L4Spec>,
    /// PROXY protocol in: a header read first, from trusted senders only; `None`: off.
    pub proxy_protocol: Option<ProxyProtocolSpec>,
}

impl EscapedSlashesSpec {
    /// Its YAML value.
    pub fn name(self) -> &'static str {
        match self {
            EscapedSlashesSpec::Keep => "keep",
            EscapedSlashesSpec::Reject => "reject",
            EscapedSlashesSpec::Decode => "decode",
        }
    }
}

/// `listeners.*.escaped_slashes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EscapedSlashesSpec {
    /// Left encoded (not separators).
    #[default]
    Keep,
    /// The request is refused with 400.
    Reject,
    /// Decoded to `/` and `\` before normalising.
    Decode,
}

/// One route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Conditions.
    pub matcher: MatchSpec,
    /// Target cluster (checked to exist).
    pub cluster: ClusterName,
    /// Its rate limit, if any.
    pub rate_limit: Option<RateLimitSpec>,
}

/// A route's rate limit: a token bucket of `burst` tokens per key, refilled at
/// `per_second`; a request finding its bucket empty gets 429.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitSpec {
    /// Tokens added a second (`requests_per_second`).
    pub per_second: u32,
    /// Bucket size (`burst`, default `requests_per_second`).
    pub burst: u32,
    /// What a bucket is per.
    pub key: LimitKey,
}

/// `listeners.*.connection_rate_limit`: a token bucket per client address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionRateSpec {
    /// Tokens added a second (`connections_per_second`).
    pub per_second: u32,
    /// Bucket size (`burst`, default `connections_per_second`).
    pub burst: u32,
}

/// What a rate limit's buckets are per.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitKey {
    /// The client's address (after trusted proxies).
    SourceIp,
    /// The value of this request header (lower-case name); requests without it are
    /// not limited.
    Header(String),
    /// One bucket for the whole route.
    Route,
}

/// Route conditions; an empty one matches every request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchSpec {
    /// Host condition.
    pub host: Option<HostMatch>,
    /// Path condition.
    pub path: Option<PathMatch>,
    /// Allowed methods (upper case); empty means any.
    pub methods: Vec<String>,
    /// Required headers: lower-case name and exact value.
    pub headers: Vec<(String, String)>,
}

/// A host condition (lower case, no port).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    /// `api.example.com`.
    Exact(String),
    /// `*.example.com`: any host ending in `.example.com`; holds `.example.com`.
    Suffix(String),
}

/// A path condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    /// Exactly this path.
    Exact(String),
    /// This path or anything below it, segment by segment.
    Prefix(String),
}

/// The queue of requests waiting for a backend connection (`max_pending`,
/// `queue_timeout`): HAProxy's `maxqueue` and `timeout queue`, Envoy's
/// `max_pending_requests`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    /// Requests that may wait at once for one backend.
    pub max_pending: u32,
    /// Longest wait.
    pub timeout: Duration,
}

/// One cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Its name.
    pub name: ClusterName,
    /// How it picks a backend.
    pub policy: PolicySpec,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time from request sent to response head.
    pub response_timeout: Duration,
    /// Longest wait for the next bytes of a response body once its head has come.
    pub response_body_timeout: Duration,
    /// Idle time after which a pooled upstream connection is closed.
    pub idle_timeout: Duration,
    /// Most HTTP/1.1 connections open at once to each backend, busy or idle;
    /// requests past it wait for one to come back. `None`: no limit.
    pub max_connections: Option<u32>,
    /// With `max_connections`: how many requests may wait for a connection to each
    /// backend, and for how long; past either, 503 with `Retry-After`.
    pub queue: QueueSpec,
    /// What the backends speak.
    pub upstream_protocol: UpstreamProtocol,
    /// PING interval on HTTP/2 upstream connections; `None`: no PINGs.
    pub h2_keepalive: Option<Duration>,
    /// TLS to the backends; `None`: cleartext.
    pub tls: Option<UpstreamTlsSpec>,
    /// Window over which a backend that joins ramps from 10% to its full weight.
    pub slow_start: Option<Duration>,
    /// Backends, in file order; for a cluster with `discovery`, the source's last good
    /// set in address order (none as parsed: the reload core fills them in).
    pub backends: Vec<BackendSpec>,
    /// Where the backends come from when the file does not list them.
    pub discovery: Option<DiscoverySpec>,
    /// Active health checks, if any.
    pub health_check: Option<HealthCheckSpec>,
    /// Outlier ejection, if on.
    pub outlier: Option<OutlierSpec>,
    /// Quick ejection after a connect failure or response timeout (on unless
    /// `unreachable.ejection: 0s`).
    pub unreachable: Option<UnreachableSpec>,
    /// Healthy share (percent) below which the cluster balances over all its
    /// backends, healthy or not; 0 = off.
    pub panic_threshold: u8,
    /// Retries, if on.
    pub retries: Option<RetrySpec>,
    /// The PROXY protocol header sent first on every connection to a backend;
    /// `None`: none.
    pub send_proxy_protocol: Option<ProxyVersion>,
}

/// One backend. A `host:port` entry in the file gives one per address it resolves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendSpec {
    /// Its address: its identity, across reloads too (a name that resolves to the
    /// same address again keeps the backend's state).
    pub address: SocketAddr,
    /// Its weight.
    pub weight: NonZeroU32,
    /// Marked down by the operator (nginx's `server … down`): never picked.
    pub down: bool,
    /// The `host:port` it was resolved from (`localhost:9001`), for display; `None`
    /// when the file gives the IP literal.
    pub name: Option<String>,
}

impl fmt::Display for BackendSpec {
    /// `127.0.0.1:9001`, or `localhost:9001 (127.0.0.1:9001)` for one given by name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} ({})", self.address),
            None => write!(f, "{}", self.address),
        }
    }
}
