//! What a leaf certificate says about itself: the names it serves (for SNI) and when
//! it expires.

use std::path::Path;
use std::time::{Duration, SystemTime};

use rustls_pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::error::{Field, TlsError};

/// The names and expiry of one leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CertFacts {
    /// Its DNS subject alternative names, or, when it has none, its subject's common
    /// names; as written in the certificate (wildcards included).
    pub names: Vec<String>,
    /// Its notAfter.
    pub not_after: SystemTime,
    /// Its notAfter as written in logs (RFC 2822).
    pub not_after_text: String,
}

/// The facts of `leaf`, the first certificate of file `path` of pair `index`.
pub(crate) fn of(
    index: usize,
    path: &Path,
    leaf: &CertificateDer<'_>,
) -> Result<CertFacts, TlsError> {
    let fail = |what: String| {
        let message = format!("cannot parse the certificate in {}: {what}", path.display());
        TlsError::new(index, Field::Cert, message)
    };
    let (_, cert) = X509Certificate::from_der(leaf).map_err(|e| fail(e.to_string()))?;
    let names = names(&cert).map_err(fail)?;
    let not_after = cert.validity().not_after;
    let seconds = not_after.timestamp();
    let not_after_text = not_after
        .to_rfc2822()
        .unwrap_or_else(|_| not_after.to_string());
    Ok(CertFacts {
        names,
        not_after: unix_time(seconds),
        not_after_text,
    })
}

/// DNS SANs, else the subject's common names.
fn names(cert: &X509Certificate<'_>) -> Result<Vec<String>, String> {
    let san = cert
        .subject_alternative_name()
        .map_err(|e| format!("its subjectAltName extension: {e}"))?;
    let dns: Vec<String> = san
        .iter()
        .flat_map(|ext| ext.value.general_names.iter())
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some((*dns).to_owned()),
            _ => None,
        })
        .collect();
    if !dns.is_empty() {
        return Ok(dns);
    }
    Ok(cert
        .subject()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
        .collect())
}

/// `seconds` after (or before) the Unix epoch; X.509 times (years 0000–9999) always fit.
fn unix_time(seconds: i64) -> SystemTime {
    let offset = Duration::from_secs(seconds.unsigned_abs());
    let time = if seconds >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(offset)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(offset)
    };
    time.unwrap_or(SystemTime::UNIX_EPOCH)
}
