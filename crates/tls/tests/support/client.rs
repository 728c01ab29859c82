//! A tokio-rustls test client that reports which certificate and protocol it was
//! served, accepting any certificate.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme, SupportedProtocolVersion};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::wait::STEP;

/// What a client was served.
pub struct Served {
    pub leaf: CertificateDer<'static>,
    pub alpn: Option<Vec<u8>>,
    pub stream: tokio_rustls::client::TlsStream<TcpStream>,
}

/// How the test client connects.
#[derive(Clone)]
pub struct Client {
    pub sni: Option<String>,
    pub alpn: Vec<Vec<u8>>,
    pub versions: Vec<&'static SupportedProtocolVersion>,
}

impl Client {
    /// A TLS 1.2/1.3 client sending `sni` (none for `None`) and no ALPN.
    pub fn sni(sni: Option<&str>) -> Self {
        Self {
            sni: sni.map(str::to_owned),
            alpn: Vec::new(),
            versions: rustls::DEFAULT_VERSIONS.to_vec(),
        }
    }

    /// Connects to `addr` and handshakes, with a fresh config (no session to resume,
    /// so the server sends its certificate every time), accepting any certificate.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<Served> {
        let config = self.config();
        let name = self
            .sni
            .clone()
            .unwrap_or_else(|| "unnamed.test".to_owned());
        let name = ServerName::try_from(name).map_err(io::Error::other)?;
        let handshake = async {
            let tcp = TcpStream::connect(addr).await?;
            TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
        };
        let stream = tokio::time::timeout(STEP, handshake).await??;
        let (_, connection) = stream.get_ref();
        let leaf = connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .ok_or_else(|| io::Error::other("no certificate served"))?
            .clone()
            .into_owned();
        let alpn = connection.alpn_protocol().map(<[u8]>::to_vec);
        Ok(Served { leaf, alpn, stream })
    }

    fn config(&self) -> ClientConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(AnyCertificate(provider.clone()));
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&self.versions)
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = self.alpn.clone();
        config.enable_sni = self.sni.is_some();
        config.resumption = Resumption::disabled();
        config
    }
}

/// The certificate a client sending `sni` is served by `addr`.
pub async fn served(addr: SocketAddr, sni: Option<&str>) -> CertificateDer<'static> {
    Client::sni(sni)
        .connect(addr)
        .await
        .expect("handshake")
        .leaf
}

/// A test client's verifier: any certificate (the tests look at which one was served).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
