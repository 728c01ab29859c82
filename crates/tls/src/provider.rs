//! The crypto provider every config here is built with.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// ring, with rustls's default (safe) cipher suites, key exchange groups and
/// signature algorithms. ring rather than aws-lc-rs because aws-lc-rs needs cmake and
/// a C toolchain setup that the build machines do not have.
pub(crate) fn ring() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
