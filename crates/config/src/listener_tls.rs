//! `listeners.*.tls`: certificate files, the default certificate, the oldest version,
//! ALPN and the handshake timeout. Only the shape is checked here; the files are read
//! (and their errors reported with these same paths) when the config is compiled.

use std::path::PathBuf;

use crate::errors::Errors;
use crate::raw::{RawScalar, RawTls};
use crate::tls_spec::{Alpn, CertificateSpec, ListenerTlsSpec, TlsVersion, tls_defaults};
use crate::wording::echo;

/// The validated `tls:` block at `at`, or `None` (after pushing errors) when it has no
/// usable certificate.
pub(crate) fn listener_tls(
    errors: &mut Errors<'_>,
    at: &str,
    raw: &RawTls,
) -> Option<ListenerTlsSpec> {
    let mut certificates = Vec::with_capacity(raw.certificates.len());
    for (i, pair) in raw.certificates.iter().enumerate() {
        let cert = file(errors, format!("{at}.certificates[{i}].cert"), &pair.cert);
        let key = file(errors, format!("{at}.certificates[{i}].key"), &pair.key);
        if let (Some(cert), Some(key)) = (cert, key) {
            certificates.push(CertificateSpec { cert, key });
        }
    }
    if raw.certificates.is_empty() {
        errors.push(
            format!("{at}.certificates"),
            "a TLS listener needs at least one certificate",
        );
    }
    let default_certificate = default_certificate(errors, at, raw, &certificates);
    let min_version = min_version(
        errors,
        &format!("{at}.min_version"),
        raw.min_version.as_ref(),
    );
    let alpn = alpn(errors, &format!("{at}.alpn"), raw.alpn.as_deref());
    let handshake_timeout = errors.duration(
        format!("{at}.handshake_timeout"),
        raw.handshake_timeout.as_deref(),
        tls_defaults::HANDSHAKE_TIMEOUT,
    );
    (!certificates.is_empty() && certificates.len() == raw.certificates.len()).then_some(
        ListenerTlsSpec {
            certificates,
            default_certificate,
            min_version,
            alpn,
            handshake_timeout,
        },
    )
}

/// A file path: not empty.
fn file(errors: &mut Errors<'_>, at: String, raw: &str) -> Option<PathBuf> {
    if raw.trim().is_empty() {
        errors.push(at, "a file path is required");
        return None;
    }
    Some(PathBuf::from(raw))
}

/// The index of `default_certificate` among the certificates' `cert` files (as
/// written), else 0.
fn default_certificate(
    errors: &mut Errors<'_>,
    at: &str,
    raw: &RawTls,
    certificates: &[CertificateSpec],
) -> usize {
    let Some(wanted) = raw.default_certificate.as_deref() else {
        return 0;
    };
    match certificates
        .iter()
        .position(|c| c.cert.as_os_str() == wanted)
    {
        Some(index) => index,
        None => {
            errors.push(
                format!("{at}.default_certificate"),
                format!(
                    "\"{}\" is not the cert file of one of tls.certificates",
                    echo(wanted)
                ),
            );
            0
        }
    }
}

/// `min_version`: `"1.2"` or `"1.3"` (a bare YAML number is taken as written).
fn min_version(errors: &mut Errors<'_>, at: &str, raw: Option<&RawScalar>) -> TlsVersion {
    let Some(raw) = raw else {
        return TlsVersion::default();
    };
    let text = raw.text();
    match text.trim() {
        "1.2" => TlsVersion::V1_2,
        "1.3" => TlsVersion::V1_3,
        old @ ("1.0" | "1.1" | "1") => {
            errors.push(
                at,
                format!("TLS {old} is not supported (insecure): use \"1.2\" or \"1.3\""),
            );
            TlsVersion::default()
        }
        other => {
            errors.push(
                at,
                format!(
                    "unknown TLS version \"{}\" (expected \"1.2\" or \"1.3\")",
                    echo(other)
                ),
            );
            TlsVersion::default()
        }
    }
}

/// `alpn`: `h2` and `http/1.1`, each at most once; default both, h2 first.
fn alpn(errors: &mut Errors<'_>, at: &str, raw: Option<&[String]>) -> Vec<Alpn> {
    let Some(raw) = raw else {
        return vec![Alpn::H2, Alpn::Http1];
    };
    let mut out = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let protocol = match name.trim() {
            "h2" => Alpn::H2,
            "http/1.1" => Alpn::Http1,
            other => {
                let msg = format!(
                    "unknown ALPN protocol \"{}\" (expected h2 or http/1.1)",
                    echo(other)
                );
                errors.push(format!("{at}[{i}]"), msg);
                continue;
            }
        };
        if out.contains(&protocol) {
            errors.push(
                format!("{at}[{i}]"),
                format!("{} is listed twice", protocol.name()),
            );
        } else {
            out.push(protocol);
        }
    }
    if raw.is_empty() {
        errors.push(at, "at least one protocol is required (h2, http/1.1)");
    }
    out
}
