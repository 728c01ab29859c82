//! The YAML of a cluster's `discovery:` block: where its backends come from when the
//! file does not list them.

use serde::Deserialize;

/// `discovery:` of a cluster: one source, and what an empty answer means.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDiscovery {
    /// Backends from DNS: A/AAAA records of a name, or SRV records.
    pub dns: Option<RawDns>,
    /// Backends registered in etcd under a key prefix.
    pub etcd: Option<RawEtcd>,
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

/// `discovery.etcd:` of a cluster.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEtcd {
    /// `http://host:port` or `https://host:port` of the cluster's members.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// The key prefix under which each key is one backend.
    pub prefix: Option<String>,
    /// etcd user, with `password`.
    pub username: Option<String>,
    /// The user's password.
    pub password: Option<String>,
    /// TLS to etcd (https endpoints): a CA, a client certificate.
    pub tls: Option<RawEtcdTls>,
    /// Longest wait to connect and for each request.
    pub timeout: Option<String>,
}

/// `discovery.etcd.tls:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEtcdTls {
    /// PEM file of the CAs trusted instead of the system's.
    pub ca: Option<String>,
    /// PEM client certificate chain, with `key`.
    pub cert: Option<String>,
    /// PEM private key of `cert`.
    pub key: Option<String>,
}
