//! The YAML of the layer-4 keys that are blocks of their own.

use serde::Deserialize;

/// `proxy_protocol:` of a listener.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProxyProtocol {
    /// Read a PROXY header (v1 or v2) before anything else.
    pub accept: Option<bool>,
    /// Peers (CIDRs or addresses) allowed to send one.
    #[serde(default)]
    pub trusted: Vec<String>,
    /// Time a sender has to send its whole header.
    pub timeout: Option<String>,
}
