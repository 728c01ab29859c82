//! Certificate files named by a config, as `sluicegate check` reads them: relative
//! paths follow the config file's directory (not the working directory), and a file
//! that cannot be used is an error naming its YAML path, exit 1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::path::Path;
use std::process::{Command, Output};

use sluicegate_testkit::TestCert;

const CONFIG: &str = "listeners:\n  https:\n    address: 127.0.0.1:0\n    tls:\n      certificates:\n\
                      \x20       - { cert: certs/site.pem, key: certs/site.key }\n    routes:\n      - cluster: app\n\
                      clusters:\n  app:\n    backends:\n      - address: 127.0.0.1:9\n";

/// Runs `sluicegate check -c FILE` from `/`, so only the config's own directory can
/// make a relative path work.
fn check(path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluicegate"))
        .args(["check", "-c"])
        .arg(path)
        .current_dir("/")
        .output()
        .unwrap()
}

#[test]
fn relative_certificate_paths_follow_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    TestCert::new(&["site.test"]).write(&dir.path().join("certs"), "site");
    let config = dir.path().join("sluicegate.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = check(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn a_missing_key_file_is_an_error_with_its_yaml_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    let (_, key) = TestCert::new(&["site.test"]).write(&dir.path().join("certs"), "site");
    std::fs::remove_file(&key).unwrap();
    let config = dir.path().join("sluicegate.yaml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = check(&config);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "listeners.https.tls.certificates[0].key: cannot read {}: No such file or directory (os error 2)",
        key.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}
