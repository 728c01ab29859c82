//! The server side of a handshake: a client's TCP stream in, a TLS stream out, with
//! what ALPN chose and the name the client asked for.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

use crate::error::HandshakeError;
use crate::server::ServerTls;

/// A client's TLS stream, after the handshake.
pub type ServerStream<S> = tokio_rustls::server::TlsStream<S>;

/// A completed server handshake.
#[derive(Debug)]
pub struct Handshake<S> {
    /// The decrypted stream.
    pub stream: ServerStream<S>,
    /// The protocol ALPN chose.
    pub alpn: Alpn,
    /// The server name the client sent (SNI), lowercase; `None` without SNI.
    pub sni: Option<String>,
}

/// The application protocol ALPN negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alpn {
    /// `h2`.
    H2,
    /// `http/1.1` (or `http/1.0`).
    Http1,
    /// No ALPN (the client offered none, or none the listener has), or a protocol
    /// other than these two.
    None,
}

impl Alpn {
    fn of(protocol: Option<&[u8]>) -> Self {
        match protocol {
            Some(b"h2") => Alpn::H2,
            Some(b"http/1.1" | b"http/1.0") => Alpn::Http1,
            _ => Alpn::None,
        }
    }
}

impl ServerTls {
    /// Runs the server handshake on `stream`, giving up after `timeout` (a client that
    /// stalls mid-handshake holds nothing longer than that); a handshake that does not
    /// complete is counted by reason. Spawn it per connection:
    /// it waits for the client.
    pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        timeout: Duration,
    ) -> Result<Handshake<S>, HandshakeError> {
        let acceptor = TlsAcceptor::from(self.config.clone());
        let accepted = tokio::time::timeout(timeout, acceptor.accept(stream)).await;
        let stream = match accepted {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                self.series.handshake_failed(false);
                return Err(HandshakeError::Io(error));
            }
            Err(_) => {
                self.series.handshake_failed(true);
                return Err(HandshakeError::Timeout);
            }
        };
        let (_, connection) = stream.get_ref();
        let alpn = Alpn::of(connection.alpn_protocol());
        let sni = connection.server_name().map(str::to_owned);
        Ok(Handshake { stream, alpn, sni })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpn_names_map_to_protocols() {
        assert_eq!(Alpn::of(Some(b"h2")), Alpn::H2);
        assert_eq!(Alpn::of(Some(b"http/1.1")), Alpn::Http1);
        assert_eq!(Alpn::of(Some(b"http/1.0")), Alpn::Http1);
        assert_eq!(Alpn::of(Some(b"acme-tls/1")), Alpn::None);
        assert_eq!(Alpn::of(None), Alpn::None);
    }
}
