//! Errors: a certificate pair that cannot be used, a handshake that failed.

/// Which file of a certificate pair is at fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The certificate file: unreadable, no certificate in it, a certificate that
    /// cannot be parsed.
    Cert,
    /// The key file: unreadable, no key in it, a key that cannot be used or that does
    /// not match its certificate.
    Key,
}

/// Why certificate pair `index` could not be used. Its message names the file.
#[derive(thiserror::Error, Clone, Debug, PartialEq, Eq)]
#[error("{message}")]
pub struct TlsError {
    /// Index of the pair in [`ServerParams::pairs`](crate::ServerParams::pairs).
    pub index: usize,
    /// Which of the pair's files is at fault.
    pub field: Field,
    /// What is wrong, naming the file (`certs/a.pem holds no certificate`).
    pub message: String,
}

impl TlsError {
    pub(crate) fn new(index: usize, field: Field, message: String) -> Self {
        Self {
            index,
            field,
            message,
        }
    }
}

/// Why a TLS handshake with a client did not complete.
#[derive(thiserror::Error, Debug)]
pub enum HandshakeError {
    /// The handshake did not complete within the timeout given to
    /// [`ServerTls::accept`](crate::ServerTls::accept).
    #[error("TLS handshake timed out")]
    Timeout,
    /// The connection failed or the handshake was refused, by either side (a rustls
    /// error or an alert is inside the I/O error).
    #[error("TLS handshake failed: {0}")]
    Io(#[from] std::io::Error),
}
