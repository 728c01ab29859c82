//! Re-reading certificate pairs from disk: a pair whose files changed and are valid is
//! swapped in; one whose files changed and are not is kept as it was, with a warning
//! and an error count. Handshakes read the set lock-free throughout.

use std::sync::{Arc, PoisonError};
use std::time::SystemTime;

use crate::cert_set::CertSet;
use crate::error::TlsError;
use crate::expiry;
use crate::loaded_pair::LoadedPair;
use crate::params::PairSource;
use crate::pem_files;
use crate::server::ServerTls;

impl ServerTls {
    /// Re-reads every pair from disk now, swaps in those whose files changed and are
    /// valid, keeps the loaded pair (logging and counting the error) for those whose
    /// files changed and are not. Returns how many pairs were swapped. Blocking file
    /// I/O; works with or without a [`watch`](ServerTls::watch).
    pub fn refresh(&self) -> usize {
        self.reread(|_| true)
    }

    /// [`refresh`](ServerTls::refresh) for the pairs whose index `wanted` selects.
    pub(crate) fn reread(&self, wanted: impl Fn(usize) -> bool) -> usize {
        let _one = self
            .rereading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.resolver.current();
        let mut pairs = current.pairs.clone();
        let mut swapped = 0;
        for (index, (source, slot)) in self.params.pairs.iter().zip(&mut pairs).enumerate() {
            if !wanted(index) {
                continue;
            }
            if let Some(pair) = self.reread_pair(index, source, slot) {
                *slot = pair;
                swapped += 1;
            }
        }
        if swapped > 0 {
            self.resolver
                .replace(CertSet::new(pairs, self.params.default));
        }
        swapped
    }

    /// The new pair `index` when its files changed and are valid; `None` when they did
    /// not change or are not valid (then it says so in the log and the counter).
    fn reread_pair(
        &self,
        index: usize,
        source: &PairSource,
        loaded: &LoadedPair,
    ) -> Option<Arc<LoadedPair>> {
        let checked = pem_files::read(index, source).and_then(|bytes| {
            if loaded.made_from(&bytes) {
                return Ok(None);
            }
            LoadedPair::from_bytes(index, source, bytes, &self.provider).map(Some)
        });
        match checked {
            Ok(None) => None,
            Ok(Some(pair)) => {
                self.swapped(index, source, &pair);
                Some(Arc::new(pair))
            }
            Err(errors) => {
                self.refused(source, &errors);
                None
            }
        }
    }

    fn swapped(&self, index: usize, source: &PairSource, pair: &LoadedPair) {
        let listener = &self.params.listener;
        tracing::info!(
            "listener {listener}: serving the new certificate in {} ({}), valid until {}",
            source.cert.display(),
            pair.facts.names.join(", "),
            pair.facts.not_after_text
        );
        expiry::warn_if_near(listener, &source.cert, &pair.facts, SystemTime::now());
        self.series
            .expires(index, expiry::unix_seconds(pair.facts.not_after));
        self.series.reloaded(true);
    }

    fn refused(&self, source: &PairSource, errors: &[TlsError]) {
        let listener = &self.params.listener;
        for error in errors {
            tracing::warn!(
                "listener {listener}: keeping the loaded certificate of {}: {error}",
                source.cert.display()
            );
        }
        self.series.reloaded(false);
    }
}
