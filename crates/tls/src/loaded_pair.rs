//! A certificate pair checked and ready to serve: the rustls `CertifiedKey`, the
//! certificate's names and expiry, and the file bytes it was made from.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{Error as RustlsError, InconsistentKeys};

use crate::cert_facts::{self, CertFacts};
use crate::error::{Field, TlsError};
use crate::params::PairSource;
use crate::pem_files::{self, PairBytes};

/// One usable certificate pair.
#[derive(Debug)]
pub(crate) struct LoadedPair {
    /// The chain and signing key rustls serves.
    pub certified: Arc<CertifiedKey>,
    /// The leaf certificate's names and expiry.
    pub facts: CertFacts,
    /// The files as read, to tell a changed pair from an unchanged one.
    bytes: PairBytes,
}

impl LoadedPair {
    /// Reads and checks pair `index`; every error found in its files.
    pub fn read(
        index: usize,
        source: &PairSource,
        provider: &CryptoProvider,
    ) -> Result<Self, Vec<TlsError>> {
        let bytes = pem_files::read(index, source)?;
        Self::from_bytes(index, source, bytes, provider)
    }

    /// Checks pair `index` from its files' `bytes`: a chain, a key, and a key that
    /// matches the chain's leaf.
    pub fn from_bytes(
        index: usize,
        source: &PairSource,
        bytes: PairBytes,
        provider: &CryptoProvider,
    ) -> Result<Self, Vec<TlsError>> {
        let chain = pem_files::chain(index, &source.cert, &bytes.cert);
        let key = pem_files::key(index, &source.key, &bytes.key);
        let (chain, key) = match (chain, key) {
            (Ok(chain), Ok(key)) => (chain, key),
            (chain, key) => return Err([chain.err(), key.err()].into_iter().flatten().collect()),
        };
        let leaf = chain
            .first()
            .ok_or_else(|| vec![no_certificate(index, source)])?;
        let facts = cert_facts::of(index, &source.cert, leaf).map_err(|e| vec![e])?;
        let key_error = |what: String| vec![TlsError::new(index, Field::Key, what)];
        let signing = provider.key_provider.load_private_key(key).map_err(|e| {
            key_error(format!(
                "the key in {} cannot be used: {e}",
                source.key.display()
            ))
        })?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            // A key that cannot tell its public key is not refused: rustls cannot check it.
            Ok(()) | Err(RustlsError::InconsistentKeys(InconsistentKeys::Unknown)) => {}
            Err(_) => return Err(key_error(mismatch(source))),
        }
        Ok(Self {
            certified: Arc::new(certified),
            facts,
            bytes,
        })
    }

    /// Whether `bytes` are the files this pair was made from.
    pub fn made_from(&self, bytes: &PairBytes) -> bool {
        self.bytes == *bytes
    }
}

fn no_certificate(index: usize, source: &PairSource) -> TlsError {
    let message = format!("{} holds no certificate", source.cert.display());
    TlsError::new(index, Field::Cert, message)
}

fn mismatch(source: &PairSource) -> String {
    format!(
        "the key in {} does not match the certificate in {}",
        source.key.display(),
        source.cert.display()
    )
}
