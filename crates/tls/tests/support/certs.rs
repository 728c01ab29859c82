//! Test certificates made by rcgen, and pair files in a temporary directory.

use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use sluicegate_tls::{MinVersion, PairSource, ServerParams};

/// A certificate and its key, as PEM, and the certificate's DER to recognise it.
#[derive(Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
    pub der: CertificateDer<'static>,
}

/// A self-signed certificate for `names` (DNS SANs), its subject's common name the
/// first of them (so two certificates for different names have different issuers).
pub fn cert_for(names: &[&str]) -> Pem {
    let owned: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(owned).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    let cn = names.first().copied().unwrap_or("unnamed");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    signed(&params)
}

/// A self-signed certificate without SANs whose subject's common name is `cn`.
pub fn cert_with_cn_only(cn: &str) -> Pem {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    signed(&params)
}

/// A self-signed certificate for `names` that expires on 1 January of `year`.
pub fn cert_expiring(names: &[&str], year: i32) -> Pem {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names).expect("params");
    params.not_after = rcgen::date_time_ymd(year, 1, 1);
    signed(&params)
}

fn signed(params: &rcgen::CertificateParams) -> Pem {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
        der: cert.der().clone(),
    }
}

/// Writes `pem` as `<name>.pem` and `<name>.key` in `dir`.
pub fn write_pair(dir: &Path, name: &str, pem: &Pem) -> PairSource {
    let source = PairSource {
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}.key")),
    };
    std::fs::write(&source.cert, &pem.cert).expect("write cert");
    std::fs::write(&source.key, &pem.key).expect("write key");
    source
}

/// Server params of listener `listener` over `pairs`: TLS 1.2+, h2 then http/1.1.
pub fn params(listener: &str, pairs: Vec<PairSource>, default: usize) -> ServerParams {
    ServerParams {
        listener: listener.to_owned(),
        pairs,
        default,
        min_version: MinVersion::Tls12,
        alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    }
}

/// A temporary directory's path, kept alive by the returned guard.
pub fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    (dir, path)
}
