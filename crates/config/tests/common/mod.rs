//! What the fixture tests share: the fixture files, and the environment and host
//! names they see (fixed tables, so no test depends on the machine).
#![allow(dead_code, clippy::unwrap_used)] // Each test file uses part of it; test code.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use sluicegate_config::{Config, ConfigErrors, parse_with};

/// The `.yaml` files of `fixtures/DIR`, sorted.
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    yaml_files_in(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(dir),
    )
}

/// The `.yaml` files directly in `dir`, sorted; at least one.
pub fn yaml_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    files
}

/// The environment the fixtures see, so no test reads or changes the process's.
pub fn fixture_env(name: &str) -> Option<String> {
    let value = match name {
        "SG_HOST" => "127.0.0.1",
        "SG_PORT" => "9001",
        "SG_WEIGHT" => "3",
        "SG_CONNECT" => "1m30s",
        "SG_LOG" => "true",
        "HOME" => "/should/not/expand",
        _ => return None,
    };
    Some(value.to_string())
}

/// The host names the fixtures see, so no test depends on the machine's resolver.
pub fn fixture_resolver(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let ips: &[IpAddr] = match host {
        "localhost" => &[
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
        // A resolver may answer an address twice: it is one backend.
        "api.internal" => &[ip(10, 0, 0, 1), ip(10, 0, 0, 2), ip(10, 0, 0, 1)],
        "one.internal" => &[ip(10, 0, 0, 3)],
        "empty.internal" => &[],
        _ => return Err("no such host".into()),
    };
    Ok(ips.iter().map(|&ip| SocketAddr::new(ip, port)).collect())
}

const fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// Parses `text` with the fixtures' environment and host names.
pub fn parse_fixture(text: &str) -> Result<Config, ConfigErrors> {
    parse_with(text, &fixture_env, &fixture_resolver)
}
