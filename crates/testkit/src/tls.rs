//! TLS for tests: certificates made by rcgen ([`TestCert`], written to files for a
//! listener's or a cluster's `tls:`), a client that verifies the proxy against one of
//! them and reports what it was served ([`tls_connect`]), and a TLS-terminating echo
//! backend ([`Backend::tls_echo`]) for upstream TLS.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::Backend;
use crate::backend::{bind, spawn_tcp_on};
use crate::{WAIT, within};

/// A self-signed certificate for some DNS names, with its key.
#[derive(Clone, Debug)]
pub struct TestCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
    /// The certificate, DER: what a client was served is compared with this.
    pub der: CertificateDer<'static>,
}

impl TestCert {
    /// A fresh self-signed certificate for `names` (DNS names or IP literals).
    pub fn new(names: &[&str]) -> TestCert {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let certified =
            rcgen::generate_simple_self_signed(names).unwrap_or_else(|e| panic!("rcgen: {e}"));
        TestCert {
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
            der: certified.cert.der().clone(),
        }
    }

    /// Writes `<name>.pem` and `<name>.key` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem).unwrap_or_else(|e| panic!("write {cert:?}: {e}"));
        std::fs::write(&key, &self.key_pem).unwrap_or_else(|e| panic!("write {key:?}: {e}"));
        (cert, key)
    }

    fn server_config(&self, alpn: &[&[u8]]) -> rustls::ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .unwrap_or_else(|e| panic!("test key: {e}"));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("versions: {e}"))
            .with_no_client_auth()
            .with_single_cert(vec![self.der.clone()], key)
            .unwrap_or_else(|e| panic!("test certificate: {e}"));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }
}

/// What a TLS client got: the stream, the certificate served and the protocol agreed.
#[derive(Debug)]
pub struct TlsServed {
    /// The connection.
    pub stream: TlsStream<TcpStream>,
    /// The leaf certificate the server sent.
    pub leaf: CertificateDer<'static>,
    /// The ALPN protocol agreed, if any.
    pub alpn: Option<Vec<u8>>,
}

/// Connects to `addr` with TLS, sending `sni` (none for an IP literal) and offering
/// `alpn`, and trusting exactly `trusted` (so a wrong certificate fails the
/// handshake). Bounded by [`WAIT`].
pub async fn tls_connect(
    addr: SocketAddr,
    sni: &str,
    alpn: &[&[u8]],
    trusted: &[&TestCert],
) -> io::Result<TlsServed> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in trusted {
        roots.add(cert.der.clone()).map_err(io::Error::other)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.resumption = rustls::client::Resumption::disabled();
    let name = ServerName::try_from(sni.to_owned()).map_err(io::Error::other)?;
    let stream = within(WAIT, &format!("TLS to {addr} as {sni}"), async {
        let tcp = TcpStream::connect(addr).await?;
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    })
    .await?;
    let (_, session) = stream.get_ref();
    let leaf = session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.clone().into_owned())
        .ok_or_else(|| io::Error::other("no certificate served"))?;
    let alpn = session.alpn_protocol().map(<[u8]>::to_vec);
    Ok(TlsServed { stream, leaf, alpn })
}

impl Backend {
    /// The echo backend ([`Backend::echo`]) behind TLS with `cert`, speaking HTTP/2
    /// when the client agrees to `h2` by ALPN (offered first when `h2`), else
    /// HTTP/1.1.
    pub fn tls_echo(cert: &TestCert, h2: bool) -> Backend {
        let alpn: &[&[u8]] = if h2 {
            &[b"h2", b"http/1.1"]
        } else {
            &[b"http/1.1"]
        };
        let acceptor = TlsAcceptor::from(Arc::new(cert.server_config(alpn)));
        spawn_tcp_on(bind(), move |stream, counters| {
            let acceptor = acceptor.clone();
            async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return; // A client that refused the certificate, say.
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                crate::echo::serve_echo(tls, counters, h2).await;
            }
        })
    }
}
