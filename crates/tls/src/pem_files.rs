//! Reading a certificate pair's two PEM files, and parsing their bytes into a chain
//! and a key. The bytes are kept by the loaded pair, so a re-read can tell whether
//! anything changed.

use std::fmt;
use std::path::Path;

use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Field, TlsError};
use crate::params::PairSource;

/// The two files of a pair, as read.
#[derive(PartialEq, Eq)]
pub(crate) struct PairBytes {
    /// The certificate file's bytes.
    pub cert: Vec<u8>,
    /// The key file's bytes.
    pub key: Vec<u8>,
}

/// Sizes only: the key file is a secret and must never reach a log through `{:?}`.
impl fmt::Debug for PairBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PairBytes")
            .field("cert_len", &self.cert.len())
            .field("key_len", &self.key.len())
            .finish()
    }
}

/// Reads both files of pair `index`; an error for each one that cannot be read.
pub(crate) fn read(index: usize, source: &PairSource) -> Result<PairBytes, Vec<TlsError>> {
    let cert = read_file(index, Field::Cert, &source.cert);
    let key = read_file(index, Field::Key, &source.key);
    match (cert, key) {
        (Ok(cert), Ok(key)) => Ok(PairBytes { cert, key }),
        (cert, key) => Err([cert.err(), key.err()].into_iter().flatten().collect()),
    }
}

fn read_file(index: usize, field: Field, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| {
        let message = format!("cannot read {}: {error}", path.display());
        TlsError::new(index, field, message)
    })
}

/// The certificate chain in `bytes` (the file `path` of pair `index`), leaf first.
pub(crate) fn chain(
    index: usize,
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let fail = |message: String| TlsError::new(index, Field::Cert, message);
    let chain = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| fail(not_pem(path, &error)))?;
    if chain.is_empty() {
        return Err(fail(format!("{} holds no certificate", path.display())));
    }
    Ok(chain)
}

/// The private key in `bytes` (the file `path` of pair `index`): the first one.
pub(crate) fn key(
    index: usize,
    path: &Path,
    bytes: &[u8],
) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|error| {
        let message = match error {
            pem::Error::NoItemsFound => format!("{} holds no private key", path.display()),
            error => not_pem(path, &error),
        };
        TlsError::new(index, Field::Key, message)
    })
}

fn not_pem(path: &Path, error: &pem::Error) -> String {
    format!("{} is not valid PEM: {error}", path.display())
}
