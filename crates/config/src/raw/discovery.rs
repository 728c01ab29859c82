//! The YAML of a cluster's `discovery:` block: where its backends come from when the
//! file does not list them.

use serde::Deserialize;

/// `discovery:` of a cluster: one source, and what an empty answer means.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDiscovery {
    /// Backends from DNS: A/AAAA records of a name, or SRV records.
    pub dns: Option<RawDns>,
    /// `keep_last` (the default) or `accept`.
    pub empty: Option<String>,
}

/// `discovery.dns:` of a cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    /// A name whose A and AAAA records are the backends' addresses.
    pub name: Option<String>,
    /// The backends' port, with `name`.
    pub port: Option<i64>,
    /// A name whose SRV records give the backends (targets, ports, weights).
    pub srv: Option<String>,
    /// Longest time between two lookups (a shorter TTL asks sooner).
    pub refresh: Option<String>,
    /// `IP` or `IP:port` of the DNS server to ask instead of `/etc/resolv.conf`'s.
    pub resolver: Option<String>,
}
