//! What one backend's active checks go over: cleartext, or, for a cluster with
//! `tls:`, TLS with the cluster's compiled client config (its CAs or none, the ALPN
//! of its protocol) and the backend's server name ([`UpstreamTls::server_name`]), as
//! its requests do (`upstream/src/connector.rs`). A cluster speaking `h2` requires the
//! backend to agree to `h2` by ALPN, in the connector's words, so a check fails for the
//! reason a request would.
//!
//! The health crate sees only its [`TlsClient`] trait: this is where the tls crate's
//! `ClientTls` is plugged into it (health depends on neither tls nor config). The
//! identity the supervisor compares across reloads is the client's parameters (CA
//! path, verification, ALPN), the server name and the ALPN requirement: the
//! parameters, not the loaded config, as the pools compare them.

use std::sync::Arc;

use sluicegate_core::UpstreamProtocol;
use sluicegate_health::{CheckIo, Handshaking, TlsClient, Transport};
use sluicegate_tls::ClientTls;
use tokio::net::TcpStream;

use crate::upstream_tls::UpstreamTls;
use crate::{Backend, Cluster};

/// TLS to one backend, for its checks.
#[derive(Debug)]
struct CheckTls {
    client: Arc<ClientTls>,
    server_name: String,
    /// Whether the backend must agree to `h2` by ALPN.
    h2: bool,
}

impl TlsClient for CheckTls {
    fn handshake(&self, tcp: TcpStream) -> Handshaking<'_> {
        Box::pin(async move {
            let tls = self
                .client
                .connect(&self.server_name, tcp)
                .await
                .map_err(|e| e.to_string())?;
            if self.h2 && tls.get_ref().1.alpn_protocol() != Some(b"h2") {
                return Err("the backend did not agree to HTTP/2 (ALPN h2)".into());
            }
            Ok(Box::new(tls) as CheckIo)
        })
    }

    fn identity(&self) -> String {
        format!(
            "{:?}, server name {:?}, ALPN h2 required: {}",
            self.client.params(),
            self.server_name,
            self.h2
        )
    }
}

/// The transport of `backend`'s checks in `cluster`.
pub(crate) fn check_transport(cluster: &Cluster, backend: &Backend) -> Transport {
    match &cluster.tls {
        None => Transport::Plain,
        Some(tls) => Transport::Tls(Arc::new(check_tls(tls, cluster, backend))),
    }
}

fn check_tls(tls: &UpstreamTls, cluster: &Cluster, backend: &Backend) -> CheckTls {
    let address = backend.address();
    CheckTls {
        client: tls.client.clone(),
        server_name: tls.server_name(backend.name.as_deref(), address.ip()),
        h2: cluster.upstream_protocol == UpstreamProtocol::H2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transports of the backends of cluster `app` with extra keys `keys`.
    fn transports(keys: &str, backends: &[&str]) -> Vec<Transport> {
        let mut yaml = String::from(
            "listeners:\n  main:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\nclusters:\n  app:\n",
        );
        yaml.push_str(keys);
        yaml.push_str("    backends:\n");
        for backend in backends {
            yaml.push_str(&format!("      - address: {backend}\n"));
        }
        let config = sluicegate_config::parse(&yaml).expect("a valid config");
        let snapshot = crate::compile(&config, None).expect("it compiles");
        let cluster = &snapshot.clusters[0];
        let transports = cluster.backends.iter();
        transports.map(|b| check_transport(cluster, b)).collect()
    }

    fn identity(transport: &Transport) -> String {
        match transport {
            Transport::Plain => panic!("not TLS"),
            Transport::Tls(client) => client.identity(),
        }
    }

    #[test]
    fn cleartext_clusters_check_in_cleartext() {
        let plain = transports("", &["127.0.0.1:9001"]);
        assert_eq!(plain, [Transport::Plain]);
        let h2c = transports("    upstream_protocol: h2c\n", &["127.0.0.1:9001"]);
        assert_eq!(h2c, [Transport::Plain]);
    }

    #[test]
    fn tls_checks_verify_each_backend_against_its_server_name() {
        let backends = ["127.0.0.1:9001", "127.0.0.2:9001"];
        let by_ip = transports("    tls: { verify: false }\n", &backends);
        assert!(identity(&by_ip[0]).contains("server name \"127.0.0.1\""));
        assert!(identity(&by_ip[1]).contains("server name \"127.0.0.2\""));
        assert_ne!(by_ip[0], by_ip[1]);
        let named = transports("    tls: { verify: false, sni: b.test }\n", &backends);
        assert!(identity(&named[0]).contains("server name \"b.test\""));
        assert_eq!(named[0], named[1]);
        // Compiled again (another loaded client config), the same parameters.
        let again = transports("    tls: { verify: false, sni: b.test }\n", &backends);
        assert_eq!(named, again);
    }

    #[test]
    fn an_h2_cluster_requires_alpn_h2() {
        let keys = "    upstream_protocol: h2\n    tls: { verify: false, sni: b.test }\n";
        let h2 = transports(keys, &["127.0.0.1:9001"]);
        assert!(identity(&h2[0]).contains("ALPN h2 required: true"));
        let h1 = transports(
            "    tls: { verify: false, sni: b.test }\n",
            &["127.0.0.1:9001"],
        );
        assert!(identity(&h1[0]).contains("ALPN h2 required: false"));
        assert_ne!(h2, h1);
    }
}
