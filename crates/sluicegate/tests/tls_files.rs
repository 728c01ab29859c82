//! Certificate files named by a config, as `sluicegate check` reads them: relative
//! paths follow the config file's directory (not the working directory), and a file
//! that cannot be used is an error naming its YAML path, exit 1; `/status` lists the
//! certificates a TLS listener serves.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::path::Path;
use std::process::{Command, Output};

use sluicegate_testkit::{ProcessProxy, TestCert, free_port};

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

#[test]
fn status_lists_each_served_certificate_with_its_names_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    let (cert, _) =
        TestCert::new(&["site.test", "www.site.test"]).write(&dir.path().join("certs"), "site");
    let listen = free_port();
    let config = dir.path().join("sluicegate.yaml");
    let yaml =
        CONFIG.replace("127.0.0.1:0", &listen.to_string()) + "admin:\n  address: 127.0.0.1:0\n";
    std::fs::write(&config, yaml).unwrap();
    let proxy = ProcessProxy::start(env!("CARGO_BIN_EXE_sluicegate"), &config, listen);
    assert!(
        proxy.logged(&format!("listening on https://{listen}")),
        "{:?}",
        proxy.log()
    );
    let status = proxy.status();
    let served = &status["listeners"][0]["certificates"][0];
    assert_eq!(served["cert"], cert.display().to_string(), "{status}");
    assert_eq!(
        served["names"],
        serde_json::json!(["site.test", "www.site.test"])
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(served["not_after"].as_f64().unwrap() > now, "{status}");
}
