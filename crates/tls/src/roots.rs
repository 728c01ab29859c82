//! The roots an upstream's certificate is verified against: a PEM bundle named by the
//! config, or the system's.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The roots in the bundle `ca`, or the system's when `None`.
pub(crate) fn load(ca: Option<&Path>) -> Result<RootCertStore, String> {
    match ca {
        Some(path) => bundle(path),
        None => system(),
    }
}

/// Every certificate in the PEM file `path`; an error if one cannot be used as a root.
fn bundle(path: &Path) -> Result<RootCertStore, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut roots = RootCertStore::empty();
    for (n, cert) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
        let cert = cert.map_err(|e| format!("{} is not valid PEM: {e}", path.display()))?;
        roots.add(cert).map_err(|e| {
            format!(
                "certificate {} in {} cannot be a root: {e}",
                n + 1,
                path.display()
            )
        })?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no certificate", path.display()));
    }
    Ok(roots)
}

/// The system's roots (rustls-native-certs: the platform's store, or `SSL_CERT_FILE`
/// and `SSL_CERT_DIR`); unreadable ones are skipped with a warning.
fn system() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::warn!("system root certificates: {error}");
    }
    let mut roots = RootCertStore::empty();
    let (_, unusable) = roots.add_parsable_certificates(found.certs);
    if unusable > 0 {
        tracing::warn!("system root certificates: {unusable} could not be used and are skipped");
    }
    if roots.is_empty() {
        return Err("no system root certificates found (name a CA bundle instead)".to_owned());
    }
    Ok(roots)
}
