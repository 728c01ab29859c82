//! `to_yaml` round trip: for every example config in `configs/` and every valid fixture,
//! parse → print → parse gives an equal `Config`, so the printed file is the effective
//! config, defaults filled in, in a form sluicegate itself reads.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::path::{Path, PathBuf};

use sluicegate_config::{Config, to_yaml};

mod common;
use common::{parse_fixture, yaml_files, yaml_files_in};

fn example_configs() -> Vec<PathBuf> {
    let files = yaml_files_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs"));
    assert!(files.len() >= 4, "expected the example configs: {files:?}");
    files
}

/// `config` without the host names its backends were resolved from: the printed file
/// gives the resolved addresses (the names only as comments), so that is all a round
/// trip can keep.
fn without_names(mut config: Config) -> Config {
    for cluster in &mut config.clusters {
        for backend in &mut cluster.backends {
            backend.name = None;
        }
    }
    config
}

#[test]
fn printed_configs_read_back_equal() {
    let mut files = example_configs();
    files.extend(yaml_files("valid"));
    for file in files {
        let config = parse_fixture(&std::fs::read_to_string(&file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let printed = to_yaml(&config).unwrap();
        let reread = parse_fixture(&printed)
            .unwrap_or_else(|e| panic!("{}: {e}\n{printed}", file.display()));
        // Strict equality for every file without host names (`without_names` changes
        // nothing there).
        assert_eq!(
            reread,
            without_names(config),
            "{}:\n{printed}",
            file.display()
        );
    }
}

#[test]
fn host_named_backends_print_as_their_addresses_with_the_name() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/names.yaml");
    let config = parse_fixture(&std::fs::read_to_string(path).unwrap()).unwrap();
    let printed = to_yaml(&config).unwrap();
    for line in [
        "    - address: 127.0.0.1:9001  # localhost:9001\n      weight: 3\n",
        "    - address: '[::1]:9001'  # localhost:9001\n      weight: 3\n",
        "    - address: 10.0.0.2:8080  # api.internal:8080\n      weight: 1\n      down: true\n",
        "    - address: 10.0.0.9:8080\n      weight: 1\n      down: false\n",
    ] {
        assert!(printed.contains(line), "no {line:?} in:\n{printed}");
    }
}

#[test]
fn header_names_in_any_case_read_back_equal() {
    let config = parse_fixture(
        "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - match: { headers: { X-B: \"1\", a: \"2\" } }\n        cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: 127.0.0.1:9001\n",
    )
    .unwrap();
    let printed = to_yaml(&config).unwrap();
    assert_eq!(parse_fixture(&printed).unwrap(), config, "{printed}");
}

#[test]
fn dollar_signs_read_back_equal() {
    // Loaded as `${A}` and `$$`: printed as they are, they would read back as an
    // unset variable and as `$`.
    let config = parse_fixture(
        "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - match: { headers: { x-a: \"$${A}\", x-b: \"$$$$\" } }\n        cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: 127.0.0.1:9001\n",
    )
    .unwrap();
    let printed = to_yaml(&config).unwrap();
    assert_eq!(parse_fixture(&printed).unwrap(), config, "{printed}");
}

#[test]
fn a_minimal_config_is_written_with_every_default() {
    let config = sluicegate_config::parse(
        "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: 127.0.0.1:9001\n",
    )
    .unwrap();
    let expected = "\
listeners:
  web:
    address: 127.0.0.1:8080
    protocol: http
    send_timeout: 1m
    max_connections: 10000
    tunnel_idle_timeout: 1h
    keepalive_timeout: 1m
    header_read_timeout: 30s
    request_body_timeout: 1m
    trusted_proxies: []
    merge_slashes: true
    escaped_slashes: keep
    routes:
    - cluster: app
clusters:
  app:
    policy: round_robin
    connect_timeout: 5s
    response_timeout: 30s
    response_body_timeout: 1m
    idle_timeout: 1m
    upstream_protocol: http1
    unreachable:
      ejection: 1s
      max_ejection: 30s
    panic_threshold: 0%
    backends:
    - address: 127.0.0.1:9001
      weight: 1
      down: false
drain_timeout: 30s
access_log: false
reload:
  debounce: 200ms
admin:
  address: 127.0.0.1:9901
  allow_remote: false
  metrics: true
";
    assert_eq!(to_yaml(&config).unwrap(), expected);
}

#[test]
fn backends_given_by_name_are_written_as_their_addresses_with_the_name() {
    let resolver = |_: &str, port: u16| {
        Ok(vec![
            std::net::SocketAddr::from(([10, 0, 0, 1], port)),
            std::net::SocketAddr::from(([10, 0, 0, 2], port)),
        ])
    };
    let config = sluicegate_config::parse_with(
        "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    backends:\n      - address: 10.0.0.9:80\n      - address: api.internal:80\n        weight: 2\n",
        &|_| None,
        &resolver,
    )
    .unwrap();
    let text = to_yaml(&config).unwrap();
    assert!(
        text.contains(
            "    - address: 10.0.0.9:80\n      weight: 1\n      down: false\n\
             \x20   - address: 10.0.0.1:80  # api.internal:80\n      weight: 2\n      down: false\n\
             \x20   - address: 10.0.0.2:80  # api.internal:80\n      weight: 2\n"
        ),
        "{text}"
    );
}

#[test]
fn a_tcp_listener_is_written_with_its_layer_4_keys_only() {
    let config = sluicegate_config::parse(
        "listeners:\n  pg:\n    address: 127.0.0.1:5432\n    protocol: tcp\n    cluster: db\n\
         clusters:\n  db:\n    send_proxy_protocol: v2\n    backends:\n      - address: 127.0.0.1:6432\n",
    )
    .unwrap();
    let printed = to_yaml(&config).unwrap();
    let expected = "\
listeners:
  pg:
    address: 127.0.0.1:5432
    protocol: tcp
    send_timeout: 1m
    max_connections: 10000
    idle_timeout: 1h
    cluster: db
clusters:
";
    assert!(printed.starts_with(expected), "{printed}");
    assert!(
        printed.contains("    send_proxy_protocol: v2\n"),
        "{printed}"
    );
}
