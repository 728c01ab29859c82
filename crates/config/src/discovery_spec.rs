//! A cluster's validated `discovery:` block: the source its backends come from, and
//! what an empty answer means. Plain data, compared by the reload core: a source whose
//! spec stays keeps its running lookups and its last good set.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Defaults of the `discovery:` keys.
pub mod discovery_defaults {
    use std::time::Duration;

    /// `dns.refresh`: HAProxy's `hold valid` is 10 s, Envoy's `dns_refresh_rate` 5 s;
    /// a record's TTL asks sooner than this when it is shorter.
    pub const REFRESH: Duration = Duration::from_secs(30);
    /// The shortest wait between two lookups, whatever the TTL says (a TTL of 0 is
    /// common in service registries): one lookup a second per cluster at most.
    pub const MIN_REFRESH: Duration = Duration::from_secs(1);
    /// The port of a `resolver:` given without one.
    pub const DNS_PORT: u16 = 53;
    /// `etcd.timeout`: etcd's own clients' dial timeout.
    pub const ETCD_TIMEOUT: Duration = Duration::from_secs(5);
}

/// Where a cluster's backends come from, and what an empty answer does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoverySpec {
    /// The source.
    pub source: SourceSpec,
    /// What an answer with no backends does.
    pub empty: EmptyAnswer,
}

/// A source of backends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// DNS lookups, repeated.
    Dns(DnsSpec),
    /// Keys under a prefix in etcd, watched.
    Etcd(EtcdSpec),
}

impl SourceSpec {
    /// Whether `other` asks the same thing of the same place (the same records of the
    /// same server, the same prefix of the same members), so a set one found is the
    /// other's too: a reload that changes only how often or how patiently a source
    /// asks (`refresh`, `timeout`, credentials) keeps the cluster's set.
    pub fn same_source(&self, other: &SourceSpec) -> bool {
        match (self, other) {
            (SourceSpec::Dns(a), SourceSpec::Dns(b)) => {
                a.query == b.query && a.resolver == b.resolver
            }
            (SourceSpec::Etcd(a), SourceSpec::Etcd(b)) => {
                a.endpoints == b.endpoints && a.prefix == b.prefix
            }
            _ => false,
        }
    }

    /// The source's kind as `/status` and the logs name it: `dns`, `dns_srv` or `etcd`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceSpec::Dns(DnsSpec {
                query: DnsQuery::Addresses { .. },
                ..
            }) => "dns",
            SourceSpec::Dns(DnsSpec {
                query: DnsQuery::Srv { .. },
                ..
            }) => "dns_srv",
            SourceSpec::Etcd(_) => "etcd",
        }
    }

    /// What it asks, for display: `api.internal:8080`, `_grpc._tcp.svc.internal`.
    pub fn target(&self) -> String {
        match self {
            SourceSpec::Dns(dns) => match &dns.query {
                DnsQuery::Addresses { name, port } => format!("{name}:{port}"),
                DnsQuery::Srv { name } => name.clone(),
            },
            SourceSpec::Etcd(etcd) => etcd.prefix.clone(),
        }
    }
}

/// `discovery.dns`: what to look up, how often, and whom to ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSpec {
    /// The records asked for.
    pub query: DnsQuery,
    /// Longest time between two lookups; a shorter TTL asks sooner (never sooner than
    /// [`discovery_defaults::MIN_REFRESH`]).
    pub refresh: Duration,
    /// The DNS server asked; `None`: the system's (`/etc/resolv.conf`).
    pub resolver: Option<SocketAddr>,
}

/// The records a DNS source asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsQuery {
    /// A and AAAA records of `name`: one backend per address, on `port`, weight 1.
    Addresses {
        /// The name.
        name: String,
        /// The backends' port.
        port: u16,
    },
    /// SRV records of `name`: one backend per target address and port, weighted by
    /// the record's weight; only the records of the lowest priority (RFC 2782: the
    /// others are for when those fail, which health checks decide here).
    Srv {
        /// The SRV name (`_grpc._tcp.svc.internal`).
        name: String,
    },
}

/// `discovery.etcd`: where etcd is and which keys are the backends. Each key under
/// `prefix` is one backend, its value JSON: `{"address": "10.0.0.7:8443", "weight": 2}`
/// (`weight` optional, 1 by default).
#[derive(Clone, PartialEq, Eq)]
pub struct EtcdSpec {
    /// The members' URLs (`http://127.0.0.1:2379`), tried in turn.
    pub endpoints: Vec<String>,
    /// The key prefix.
    pub prefix: String,
    /// `(username, password)`, when etcd has authentication on.
    pub credentials: Option<(String, String)>,
    /// TLS to etcd, for `https` endpoints: `None` with `https` trusts the system's CAs.
    pub tls: Option<EtcdTlsSpec>,
    /// Longest wait to connect and for each request (the watch itself has none).
    pub timeout: Duration,
}

/// The password is not written out (`{:?}` of a config goes to logs).
impl std::fmt::Debug for EtcdSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self.credentials.as_ref().map(|(user, _)| user);
        f.debug_struct("EtcdSpec")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.prefix)
            .field("username", &user)
            .field("tls", &self.tls)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `discovery.etcd.tls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EtcdTlsSpec {
    /// PEM file of the CAs trusted instead of the system's.
    pub ca: Option<PathBuf>,
    /// PEM client certificate chain and its key, for etcd's client-certificate auth.
    pub identity: Option<(PathBuf, PathBuf)>,
}

/// What an answer with no backends (an empty record set, NXDOMAIN, an empty etcd
/// prefix) does to the running set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EmptyAnswer {
    /// Keep the last good set, as for a failed lookup (a record removed by mistake
    /// does not take the whole cluster down).
    #[default]
    KeepLast,
    /// Take it: the cluster has no backends (503) until the source names some.
    Accept,
}

impl EmptyAnswer {
    /// Its name in the YAML.
    pub fn name(self) -> &'static str {
        match self {
            EmptyAnswer::KeepLast => "keep_last",
            EmptyAnswer::Accept => "accept",
        }
    }
}
