//! The validated layer-4 parts of a config: what a `tcp` or `tls_passthrough`
//! listener forwards to, and the PROXY protocol a listener accepts.

use std::time::Duration;

use ipnet::IpNet;
use sluicegate_core::ClusterName;

use crate::spec::HostMatch;

/// Defaults of the layer-4 keys (documented in the README).
pub mod l4_defaults {
    use std::time::Duration;

    /// `listeners.*.idle_timeout` (tcp, tls_passthrough): Envoy's `tcp_proxy`
    /// default; a database or broker connection idle for an hour is taken as
    /// abandoned, while pools that ping every few minutes stay open.
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
    /// `listeners.*.handshake_timeout` (tls_passthrough): the time a client has to
    /// send its whole ClientHello, as for a terminated handshake (`tls.handshake_timeout`).
    pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    /// `listeners.*.proxy_protocol.timeout`: the time a sender has to send its whole
    /// PROXY header; a load balancer writes it with the connection's first bytes,
    /// HAProxy cuts it with `timeout client` (nginx: `proxy_protocol_timeout`).
    pub const PROXY_PROTOCOL_TIMEOUT: Duration = Duration::from_secs(5);
}

/// What a layer-4 listener forwards to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L4Spec {
    /// `tcp`: the cluster (`cluster:`); `tls_passthrough`: the cluster for a
    /// ClientHello without SNI or matching no route (`default_cluster:`), `None`:
    /// such a connection is closed.
    pub cluster: Option<ClusterName>,
    /// `tls_passthrough`: clusters by the ClientHello's server name, exact names
    /// before wildcards, in file order within each.
    pub sni_routes: Vec<SniRouteSpec>,
    /// How long a session may pass no byte either way before it is closed.
    pub idle_timeout: Duration,
    /// `tls_passthrough`: the time a client has to send its whole ClientHello.
    pub handshake_timeout: Duration,
}

/// One `tls_passthrough` route: a server name and its cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SniRouteSpec {
    /// The server name it matches (exact, or `*.suffix`).
    pub sni: HostMatch,
    /// Where the connection goes.
    pub cluster: ClusterName,
}

/// `proxy_protocol:` of a listener: a PROXY protocol header (v1 or v2) is read
/// before anything else, and the client it names replaces the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyProtocolSpec {
    /// The peers allowed to send one; from any other peer the connection is closed
    /// (a header from there is a spoofed address).
    pub trusted: Vec<IpNet>,
    /// The time a sender has to send its whole header.
    pub timeout: Duration,
}
