//! `ServerTls::load`: each refusal with its exact message and the file it blames, all
//! of them collected; what a loaded listener reports about its certificates.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use sluicegate_tls::{Field, PairSource, ServerTls, TlsError};
use support::{cert_expiring, cert_for, params, temp_dir, write_pair};

fn load_errors(pairs: Vec<PairSource>) -> Vec<TlsError> {
    ServerTls::load(params("errors", pairs, 0)).expect_err("refused")
}

fn error(index: usize, field: Field, message: String) -> TlsError {
    TlsError {
        index,
        field,
        message,
    }
}

fn missing(path: &Path) -> String {
    format!(
        "cannot read {}: No such file or directory (os error 2)",
        path.display()
    )
}

#[test]
fn a_missing_file_is_named_with_the_os_error() {
    let (_guard, dir) = temp_dir();
    let mut pair = write_pair(&dir, "a", &cert_for(&["a.test"]));
    pair.cert = dir.join("absent.pem");
    let errors = load_errors(vec![pair.clone()]);
    assert_eq!(errors, vec![error(0, Field::Cert, missing(&pair.cert))]);
    assert_eq!(errors[0].to_string(), missing(&pair.cert));
}

#[test]
fn both_missing_files_of_a_pair_are_reported() {
    let (_guard, dir) = temp_dir();
    let pair = PairSource {
        cert: dir.join("a.pem"),
        key: dir.join("a.key"),
    };
    let errors = load_errors(vec![pair.clone()]);
    let expected = vec![
        error(0, Field::Cert, missing(&pair.cert)),
        error(0, Field::Key, missing(&pair.key)),
    ];
    assert_eq!(errors, expected);
}

#[test]
fn a_cert_file_without_a_certificate_is_refused() {
    let (_guard, dir) = temp_dir();
    let pair = write_pair(&dir, "a", &cert_for(&["a.test"]));
    std::fs::write(&pair.cert, "").expect("empty the cert");
    let message = format!("{} holds no certificate", pair.cert.display());
    assert_eq!(
        load_errors(vec![pair]),
        vec![error(0, Field::Cert, message)]
    );
}

#[test]
fn a_key_file_without_a_key_is_refused() {
    let (_guard, dir) = temp_dir();
    let pem = cert_for(&["a.test"]);
    let pair = write_pair(&dir, "a", &pem);
    std::fs::write(&pair.key, &pem.cert).expect("a certificate where the key goes");
    let message = format!("{} holds no private key", pair.key.display());
    assert_eq!(load_errors(vec![pair]), vec![error(0, Field::Key, message)]);
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused() {
    let (_guard, dir) = temp_dir();
    let pair = write_pair(&dir, "a", &cert_for(&["a.test"]));
    std::fs::write(&pair.key, cert_for(&["b.test"]).key).expect("another key");
    let message = format!(
        "the key in {} does not match the certificate in {}",
        pair.key.display(),
        pair.cert.display()
    );
    assert_eq!(load_errors(vec![pair]), vec![error(0, Field::Key, message)]);
}

#[test]
fn a_cert_file_that_is_not_pem_is_refused() {
    let (_guard, dir) = temp_dir();
    let pair = write_pair(&dir, "a", &cert_for(&["a.test"]));
    std::fs::write(&pair.cert, "-----BEGIN CERTIFICATE-----\n!!!\n").expect("garbage");
    let errors = load_errors(vec![pair.clone()]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, Field::Cert);
    let start = format!("{} is not valid PEM: ", pair.cert.display());
    assert!(errors[0].message.starts_with(&start), "{}", errors[0]);
}

#[test]
fn the_errors_of_every_pair_are_collected() {
    let (_guard, dir) = temp_dir();
    let good = write_pair(&dir, "good", &cert_for(&["good.test"]));
    let empty = write_pair(&dir, "empty", &cert_for(&["empty.test"]));
    std::fs::write(&empty.cert, "").expect("empty the cert");
    let mut gone = write_pair(&dir, "gone", &cert_for(&["gone.test"]));
    gone.key = dir.join("gone-absent.key");
    let errors = load_errors(vec![good, empty.clone(), gone.clone()]);
    let expected = vec![
        error(
            1,
            Field::Cert,
            format!("{} holds no certificate", empty.cert.display()),
        ),
        error(2, Field::Key, missing(&gone.key)),
    ];
    assert_eq!(errors, expected);
}

#[test]
fn a_listener_needs_a_pair_and_a_default_among_them() {
    let errors = load_errors(Vec::new());
    assert_eq!(errors[0].message, "no certificate configured");
    let (_guard, dir) = temp_dir();
    let pair = write_pair(&dir, "a", &cert_for(&["a.test"]));
    let errors = ServerTls::load(params("errors", vec![pair], 1)).expect_err("refused");
    let message = "the default certificate is number 1 but only 1 are configured";
    assert_eq!(errors, vec![error(1, Field::Cert, message.to_owned())]);
}

#[test]
fn certificates_reports_paths_names_and_expiry() {
    let (_guard, dir) = temp_dir();
    let a = write_pair(&dir, "a", &cert_for(&["a.test", "*.a.test"]));
    // Long expired: loads, with a warning.
    let old = write_pair(&dir, "old", &cert_expiring(&["old.test"], 2001));
    let tls = ServerTls::load(params("status", vec![a.clone(), old.clone()], 0)).expect("load");
    let certs = tls.certificates();
    assert_eq!(certs.len(), 2);
    assert_eq!(
        (&certs[0].cert, &certs[0].names),
        (&a.cert, &vec!["a.test".to_owned(), "*.a.test".to_owned()])
    );
    assert!(certs[0].not_after > SystemTime::now());
    assert_eq!(
        (&certs[1].cert, &certs[1].names),
        (&old.cert, &vec!["old.test".to_owned()])
    );
    let jan_2001 = SystemTime::UNIX_EPOCH + Duration::from_secs(978_307_200);
    assert_eq!(certs[1].not_after, jan_2001);
    assert_eq!(tls.params().listener, "status");
}

#[test]
fn debug_output_names_the_files_and_never_holds_the_key() {
    let (_guard, dir) = temp_dir();
    let pem = cert_for(&["a.test"]);
    let pair = write_pair(&dir, "a", &pem);
    let tls = ServerTls::load(params("debug", vec![pair.clone()], 0)).expect("load");
    let text = format!("{tls:?}");
    assert!(text.contains(&format!("{:?}", pair.key)), "{text}");
    assert!(text.contains("a.test"), "{text}");
    let key_body = pem.key.lines().nth(1).expect("a base64 line");
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains(key_body),
        "{text}"
    );
}
