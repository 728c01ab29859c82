//! The rustls certificate resolver of a terminating listener: picks the pair for the
//! ClientHello's SNI from a [`CertSet`] read through an `ArcSwap`, so a handshake
//! never takes a lock and a re-read pair is served from the next handshake on.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::cert_set::CertSet;

/// SNI → certificate, swappable while connections are open.
#[derive(Debug)]
pub(crate) struct SniResolver {
    set: ArcSwap<CertSet>,
}

impl SniResolver {
    pub fn new(set: CertSet) -> Self {
        Self {
            set: ArcSwap::from_pointee(set),
        }
    }

    /// The pairs served now.
    pub fn current(&self) -> Arc<CertSet> {
        self.set.load_full()
    }

    /// Serves `set` from the next handshake on; handshakes under way and open
    /// connections keep what they have.
    pub fn replace(&self, set: CertSet) {
        self.set.store(Arc::new(set));
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let set = self.set.load();
        set.pick(hello.server_name())
            .map(|pair| pair.certified.clone())
    }
}
