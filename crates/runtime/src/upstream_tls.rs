//! A cluster's TLS to its backends, compiled from its `tls:` spec: the trusted CAs
//! (a file, or the system's) or no verification, the ALPN its protocol needs, and the
//! server name each backend is verified against.

use std::sync::Arc;

use sluicegate_config::{ClusterSpec, UpstreamTlsSpec};
use sluicegate_core::UpstreamProtocol;
use sluicegate_tls::{ClientParams, ClientTls};

/// A cluster's compiled upstream TLS.
#[derive(Debug)]
pub struct UpstreamTls {
    /// The rustls client config.
    pub client: Arc<ClientTls>,
    /// The configured server name; `None`: each backend's host name, else its IP.
    pub sni: Option<String>,
}

impl UpstreamTls {
    /// The name a backend given as `name` (`host:port`, when given by name) at `ip`
    /// is asked for and verified against.
    pub fn server_name(&self, name: Option<&str>, ip: std::net::IpAddr) -> String {
        if let Some(sni) = &self.sni {
            return sni.clone();
        }
        name.and_then(|n| n.rsplit_once(':').map(|(host, _)| host.to_owned()))
            .unwrap_or_else(|| ip.to_string())
    }
}

/// The upstream TLS of cluster `spec`, or `None` for cleartext; `Err` names the YAML
/// path and what is wrong (an unreadable or empty CA file).
pub(crate) fn upstream_tls(spec: &ClusterSpec) -> Result<Option<UpstreamTls>, (String, String)> {
    let Some(tls) = &spec.tls else {
        return Ok(None);
    };
    let params = params(tls, spec.upstream_protocol);
    let client = ClientTls::load(params).map_err(|message| {
        let at = format!("clusters.{}.tls", spec.name);
        let path = if tls.ca.is_some() {
            format!("{at}.ca")
        } else {
            at
        };
        (path, message)
    })?;
    if !tls.verify {
        tracing::warn!(
            "clusters.{}.tls.verify is false: backend certificates are not checked",
            spec.name
        );
    }
    Ok(Some(UpstreamTls {
        client,
        sni: tls.sni.clone(),
    }))
}

fn params(tls: &UpstreamTlsSpec, protocol: UpstreamProtocol) -> ClientParams {
    let alpn = match protocol {
        UpstreamProtocol::H2 => vec![b"h2".to_vec()],
        UpstreamProtocol::Http1 | UpstreamProtocol::H2c => vec![b"http/1.1".to_vec()],
    };
    ClientParams {
        verify: tls.verify,
        ca: tls.ca.clone(),
        alpn,
    }
}
