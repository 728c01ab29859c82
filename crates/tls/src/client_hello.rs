//! Reading a ClientHello's server name without terminating the TLS it opens, for
//! listeners that pass TLS through by SNI: the bytes the client sent are fed to a
//! rustls `Acceptor` as they arrive, which says when the ClientHello is whole
//! (across any number of TCP segments and TLS records), and what name it carries.
//! The caller keeps every byte it fed and sends them on untouched.
//!
//! rustls is strict: a ClientHello it would not accept (an SSLv2-compatible hello, no
//! `signature_algorithms`: clients of before 2010) is reported invalid, so such a
//! client is closed, not passed through.

use rustls::server::Acceptor;

/// The most bytes read to find the ClientHello: one TLS record's largest payload
/// (16 KiB) and its header. Real ClientHellos, post-quantum key shares included,
/// stay under 2 KiB; more than a record is a client trying to make us buffer.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024 + 5;

/// What the bytes fed so far say.
#[derive(Debug, PartialEq, Eq)]
pub enum HelloRead {
    /// The ClientHello is not whole yet.
    More,
    /// It is whole; its server name, if it sent one.
    Done(Option<String>),
    /// The bytes are not a ClientHello, or not one rustls accepts (the reason).
    Invalid(String),
}

/// A ClientHello read as its bytes arrive.
pub struct HelloReader {
    acceptor: Acceptor,
    done: bool,
}

impl Default for HelloReader {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for HelloReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelloReader")
            .field("done", &self.done)
            .finish()
    }
}

impl HelloReader {
    /// A reader that has seen no byte.
    pub fn new() -> Self {
        Self {
            acceptor: Acceptor::default(),
            done: false,
        }
    }

    /// Feeds the next `bytes` the client sent (never the same bytes twice).
    pub fn feed(&mut self, mut bytes: &[u8]) -> HelloRead {
        if self.done {
            return HelloRead::Invalid("the ClientHello was already read".into());
        }
        loop {
            if let Err(error) = self.acceptor.read_tls(&mut bytes) {
                return self.fail(error.to_string());
            }
            match self.acceptor.accept() {
                Ok(None) if bytes.is_empty() => return HelloRead::More,
                Ok(None) => {}
                Ok(Some(accepted)) => {
                    self.done = true;
                    let name = accepted.client_hello().server_name().map(str::to_owned);
                    return HelloRead::Done(name);
                }
                Err((error, _alert)) => return self.fail(error.to_string()),
            }
        }
    }

    fn fail(&mut self, why: String) -> HelloRead {
        self.done = true;
        HelloRead::Invalid(why)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use rustls::pki_types::ServerName;

    use super::*;

    /// The first flight of a real rustls client asking for `name`.
    fn client_hello(name: &str) -> Vec<u8> {
        let roots = rustls::RootCertStore::empty();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut out = Vec::new();
        conn.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn the_name_is_read_from_a_hello_fed_whole_or_in_pieces() {
        let hello = client_hello("api.example.com");
        let mut whole = HelloReader::new();
        assert_eq!(
            whole.feed(&hello),
            HelloRead::Done(Some("api.example.com".into()))
        );
        let mut pieces = HelloReader::new();
        let (a, rest) = hello.split_at(3);
        let (b, c) = rest.split_at(100);
        assert_eq!(pieces.feed(a), HelloRead::More);
        assert_eq!(pieces.feed(b), HelloRead::More);
        assert_eq!(
            pieces.feed(c),
            HelloRead::Done(Some("api.example.com".into()))
        );
    }

    #[test]
    fn an_ip_literal_sends_no_name_and_garbage_is_invalid() {
        let hello = client_hello("127.0.0.1");
        assert_eq!(HelloReader::new().feed(&hello), HelloRead::Done(None));
        let garbage = HelloReader::new().feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(matches!(garbage, HelloRead::Invalid(_)), "{garbage:?}");
    }
}
