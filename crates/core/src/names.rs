//! Names and keys shared by every crate.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Wraps a name.
            pub fn new(name: impl AsRef<str>) -> Self {
                Self(Arc::from(name.as_ref()))
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// The name of a cluster, as written under `clusters:` in the YAML.
    ClusterName
);
name_type!(
    /// The name of a listener, as written under `listeners:` in the YAML.
    ListenerName
);

/// Identity of a backend across reloads: its cluster and its address.
///
/// Runtime state that must survive a reload (health, in-flight counters) is keyed by it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BackendKey {
    /// The cluster the backend belongs to.
    pub cluster: ClusterName,
    /// The backend's socket address.
    pub address: SocketAddr,
}

impl fmt::Display for BackendKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cluster, self.address)
    }
}

/// What a cluster speaks to its backends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UpstreamProtocol {
    /// HTTP/1.1, a stack of keep-alive connections per backend (the default).
    #[default]
    Http1,
    /// HTTP/2 over TLS (ALPN `h2`): streams multiplexed on few connections.
    H2,
    /// HTTP/2 over cleartext, with prior knowledge.
    H2c,
}

impl UpstreamProtocol {
    /// As the YAML writes it.
    pub fn name(self) -> &'static str {
        match self {
            UpstreamProtocol::Http1 => "http1",
            UpstreamProtocol::H2 => "h2",
            UpstreamProtocol::H2c => "h2c",
        }
    }

    /// Whether it is HTTP/2.
    pub fn is_h2(self) -> bool {
        !matches!(self, UpstreamProtocol::Http1)
    }
}

/// What a listener speaks to its clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// HTTP/1.1 and HTTP/2 (layer 7).
    Http,
    /// Bytes forwarded both ways to one cluster (layer 4).
    Tcp,
    /// TLS forwarded untouched (layer 4), to the cluster its ClientHello's SNI routes to.
    TlsPassthrough,
}

impl Protocol {
    /// As the YAML writes it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Tcp => "tcp",
            Protocol::TlsPassthrough => "tls_passthrough",
        }
    }

    /// Whether it forwards bytes (layer 4) rather than requests.
    pub fn is_l4(self) -> bool {
        !matches!(self, Protocol::Http)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The version of the PROXY protocol header (HAProxy's spec) sent to a cluster's
/// backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProxyVersion {
    /// The text header: `PROXY TCP4 <src> <dst> <sport> <dport>\r\n`.
    V1,
    /// The binary header.
    V2,
}

impl ProxyVersion {
    /// As the YAML writes it.
    pub fn name(self) -> &'static str {
        match self {
            ProxyVersion::V1 => "v1",
            ProxyVersion::V2 => "v2",
        }
    }
}
