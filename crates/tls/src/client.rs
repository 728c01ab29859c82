//! TLS to upstreams: a rustls client config (roots from the config's CA bundle or the
//! system, or no verification at all when asked), and the client handshake with
//! errors that say why it failed.

use std::fmt;
use std::io;
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use crate::no_verify::AcceptAnyCertificate;
use crate::params::ClientParams;

/// An upstream's TLS stream, after the handshake.
pub type ClientStream<S> = tokio_rustls::client::TlsStream<S>;

/// A loaded client TLS config for one upstream cluster. Shared as `Arc<ClientTls>`.
pub struct ClientTls {
    params: ClientParams,
    config: Arc<ClientConfig>,
}

/// The params; not the rustls config (long, and nothing a log needs).
impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Builds the client config of `params`: TLS 1.2 and 1.3, the roots of the PEM
    /// bundle `ca` (or the system's roots when `None`), ALPN as given. `verify: false`
    /// accepts any certificate (logged as a warning). Blocking file I/O.
    pub fn load(params: ClientParams) -> Result<Arc<ClientTls>, String> {
        let provider = crate::provider::ring();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot build the TLS client config: {e}"))?;
        let mut config = if params.verify {
            let roots = crate::roots::load(params.ca.as_deref())?;
            builder.with_root_certificates(roots).with_no_client_auth()
        } else {
            tracing::warn!(
                "TLS to an upstream with verify: false: its certificate is not checked, \
                 anyone on the path can pose as it"
            );
            let verifier = Arc::new(AcceptAnyCertificate::new(provider));
            builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth()
        };
        config.alpn_protocols = params.alpn.clone();
        Ok(Arc::new(ClientTls {
            params,
            config: Arc::new(config),
        }))
    }

    /// What this was loaded from.
    pub fn params(&self) -> &ClientParams {
        &self.params
    }

    /// Runs the client handshake on `stream`, verifying the certificate against
    /// `server_name` (a DNS name, sent as SNI, or an IP address, not sent). The error
    /// says why it failed, in rustls's words and without the name:
    /// `certificate verify failed: UnknownIssuer`.
    pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        server_name: &str,
        stream: S,
    ) -> Result<ClientStream<S>, io::Error> {
        let name = ServerName::try_from(server_name.to_owned()).map_err(|e| {
            let message = format!("{server_name:?} is not a valid TLS server name: {e}");
            io::Error::new(io::ErrorKind::InvalidInput, message)
        })?;
        let connector = TlsConnector::from(self.config.clone());
        connector
            .connect(name, stream)
            .await
            .map_err(|error| explain(&error))
    }
}

/// `error` of a handshake, worded for a client's error body and a log line (which
/// names the backend itself): the rustls error inside it (a certificate refused, an
/// alert) named as such, and no address.
fn explain(error: &io::Error) -> io::Error {
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    let message = match inner {
        Some(rustls::Error::InvalidCertificate(cause)) => {
            format!("certificate verify failed: {cause}")
        }
        Some(other) => format!("handshake failed: {other}"),
        None => format!("handshake failed: {error}"),
    };
    io::Error::new(error.kind(), message)
}
