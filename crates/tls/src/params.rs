//! The parameter types the runtime builds from the config: what a terminating
//! listener and a TLS upstream are made from. Plain data, compared across reloads.

use std::path::PathBuf;

/// Oldest TLS version a listener accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MinVersion {
    /// TLS 1.2 and 1.3.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// One certificate chain and its key, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairSource {
    /// PEM file holding the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file holding the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// What a terminating listener is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerParams {
    /// The listener's name, for metrics and logs.
    pub listener: String,
    /// The certificate pairs; at least one.
    pub pairs: Vec<PairSource>,
    /// Index into `pairs`: the certificate for a client that sends no SNI or a name no
    /// certificate has.
    pub default: usize,
    /// Oldest TLS version accepted.
    pub min_version: MinVersion,
    /// ALPN protocols offered, in preference order (e.g. `[b"h2", b"http/1.1"]`); the
    /// first of them that the client also offers is chosen. Empty: no ALPN.
    pub alpn: Vec<Vec<u8>>,
}

/// What TLS to an upstream cluster is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientParams {
    /// Whether the upstream's certificate is verified (chain and name). `false`
    /// accepts any certificate: a deliberate choice, logged as a warning at load.
    pub verify: bool,
    /// PEM bundle of the roots to trust; `None`: the system's roots. Unused when
    /// `verify` is `false`.
    pub ca: Option<PathBuf>,
    /// ALPN protocols offered, in preference order. Empty: no ALPN.
    pub alpn: Vec<Vec<u8>>,
}
