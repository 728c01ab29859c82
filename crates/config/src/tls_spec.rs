//! Validated TLS settings: a listener's `tls:` (termination). Plain data: paths, not
//! certificates; the files are read when the config is compiled.

use std::path::PathBuf;
use std::time::Duration;

/// Defaults of the `tls:` keys.
pub mod tls_defaults {
    use std::time::Duration;

    /// `tls.handshake_timeout`: nginx's `ssl_handshake_timeout` is 60 s, Envoy's
    /// `transport_socket_connect_timeout` 15 s; 10 s is ample for a real client
    /// (two round trips) and keeps a stalled one from holding a connection long.
    pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
}

/// `listeners.*.tls`: the listener terminates TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerTlsSpec {
    /// Certificate chains with their keys; SNI picks one by the names in it.
    pub certificates: Vec<CertificateSpec>,
    /// Index into `certificates`: the one for a client without SNI or with an unknown
    /// name (`default_certificate`, else the first).
    pub default_certificate: usize,
    /// Oldest version accepted.
    pub min_version: TlsVersion,
    /// Protocols offered by ALPN, preferred first.
    pub alpn: Vec<Alpn>,
    /// Time a client gets to complete its handshake.
    pub handshake_timeout: Duration,
}

/// One certificate chain (PEM) and its private key (PEM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSpec {
    /// The chain, leaf first.
    pub cert: PathBuf,
    /// The leaf's private key.
    pub key: PathBuf,
}

/// A TLS version; older ones than 1.2 are never offered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2 (the default oldest).
    #[default]
    V1_2,
    /// TLS 1.3.
    V1_3,
}

impl TlsVersion {
    /// As the YAML writes it.
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        }
    }
}

/// An ALPN protocol a listener offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alpn {
    /// `h2`.
    H2,
    /// `http/1.1`.
    Http1,
}

impl Alpn {
    /// Its ALPN identifier, as the YAML writes it.
    pub fn name(self) -> &'static str {
        match self {
            Alpn::H2 => "h2",
            Alpn::Http1 => "http/1.1",
        }
    }
}

/// `clusters.*.tls`: the cluster's backends are reached over TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamTlsSpec {
    /// The server name sent (SNI) and verified; `None`: the backend's host name when
    /// it was given by name, else no SNI and the certificate checked against the IP.
    pub sni: Option<String>,
    /// Whether the backend's certificate is verified (default on).
    pub verify: bool,
    /// PEM file of the CAs trusted instead of the system's.
    pub ca: Option<PathBuf>,
}
