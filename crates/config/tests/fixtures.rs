//! Config fixtures: every file in `fixtures/valid` parses; every file in
//! `fixtures/invalid` fails with exactly the lines of its `.errors` file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use sluicegate_config::{
    ConnectionRateSpec, HashOn, LimitKey, PathMatch, PolicySpec, RateLimitSpec, defaults, parse,
    parse_with,
};

mod common;
use common::{fixture_env, fixture_resolver, parse_fixture, yaml_files};

#[test]
fn valid_fixtures_parse() {
    for file in yaml_files("valid") {
        let text = std::fs::read_to_string(&file).unwrap();
        if let Err(errors) = parse_fixture(&text) {
            panic!("{}: {errors}", file.display());
        }
    }
}

#[test]
fn invalid_fixtures_fail_with_exact_errors() {
    let mut mismatches = Vec::new();
    for file in yaml_files("invalid") {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected_file = file.with_extension("errors");
        let expected = std::fs::read_to_string(&expected_file).unwrap();
        let expected: Vec<&str> = expected.lines().collect();
        let actual = match parse_fixture(&text) {
            Ok(_) => vec!["<parsed without error>".to_string()],
            Err(errors) => errors.lines(),
        };
        if actual != expected {
            mismatches.push(format!(
                "{}:\n  expected:\n    {}\n  actual:\n    {}",
                file.display(),
                expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn defaults_are_applied() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/defaults.yaml"),
    )
    .unwrap();
    let config = parse(&text).unwrap();
    assert_eq!(config.drain_timeout, Duration::from_secs(30));
    assert!(!config.access_log);
    let cluster = config.cluster("app").unwrap();
    assert_eq!(cluster.policy, PolicySpec::RoundRobin);
    assert_eq!(cluster.connect_timeout, defaults::CONNECT_TIMEOUT);
    assert_eq!(cluster.response_timeout, defaults::RESPONSE_TIMEOUT);
    assert_eq!(
        cluster.response_body_timeout,
        defaults::RESPONSE_BODY_TIMEOUT
    );
    assert_eq!(cluster.idle_timeout, defaults::IDLE_TIMEOUT);
    assert_eq!(cluster.backends[0].weight.get(), 1);
    let route = &config.listeners[0].routes[0];
    assert_eq!(route.matcher, Default::default());
    assert_eq!(config.listeners[0].address.to_string(), "[::1]:0");
    assert_eq!(config.admin.address.to_string(), "127.0.0.1:9901");
    assert!(config.admin.metrics && !config.admin.allow_remote);
    let listener = &config.listeners[0];
    assert_eq!(listener.max_connections, defaults::LISTENER_MAX_CONNECTIONS);
    assert_eq!(listener.max_request_body, None);
    assert_eq!(listener.header_read_timeout, defaults::HEADER_READ_TIMEOUT);
    assert_eq!(
        listener.request_body_timeout,
        defaults::REQUEST_BODY_TIMEOUT
    );
    assert_eq!(config.max_connections, None);
}

#[test]
fn limits_are_read_with_their_units() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/limits.yaml");
    let config = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(config.max_connections, Some(50_000));
    let uploads = config
        .listeners
        .iter()
        .find(|l| l.name.as_str() == "uploads")
        .unwrap();
    assert_eq!(uploads.max_connections, 2000);
    assert_eq!(uploads.max_request_body, Some(10 << 20));
    assert_eq!(uploads.header_read_timeout, Duration::from_secs(5));
    let api = config
        .listeners
        .iter()
        .find(|l| l.name.as_str() == "api")
        .unwrap();
    assert_eq!(api.max_request_body, Some(1 << 20));
    let rate = |per_second, burst| Some(ConnectionRateSpec { per_second, burst });
    assert_eq!(uploads.connection_rate_limit, rate(20, 50));
    assert_eq!(api.connection_rate_limit, rate(100, 100));
    let limits: Vec<_> = uploads
        .routes
        .iter()
        .map(|r| r.rate_limit.clone())
        .collect();
    let limit = |per_second, burst, key| {
        Some(RateLimitSpec {
            per_second,
            burst,
            key,
        })
    };
    assert_eq!(
        limits,
        [
            limit(5, 10, LimitKey::SourceIp),
            limit(100, 100, LimitKey::Header("x-api-key".into())),
            limit(1000, 1000, LimitKey::Route),
        ]
    );
}

#[test]
fn a_remote_admin_address_needs_allow_remote() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/admin.yaml");
    let config = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(config.admin.address.to_string(), "0.0.0.0:9901");
    assert!(config.admin.allow_remote);
    assert!(!config.admin.metrics);
    let socket = config.admin.upgrade_socket.as_deref();
    assert_eq!(socket, Some(Path::new("/run/sluicegate/upgrade.sock")));
}

#[test]
fn explicit_values_are_kept() {
    let config = parse(
        "listeners:\n  web:\n    address: 127.0.0.1:1\n    routes:\n      - match: { path_prefix: /v1, methods: [get] }\n        cluster: app\n\
         clusters:\n  app:\n    connect_timeout: 250ms\n    backends:\n      - address: 127.0.0.1:2\n        weight: 7\n\
         access_log: true\ndrain_timeout: 1m\n",
    )
    .unwrap();
    assert!(config.access_log);
    assert_eq!(config.drain_timeout, Duration::from_secs(60));
    let m = &config.listeners[0].routes[0].matcher;
    assert_eq!(m.path, Some(PathMatch::Prefix("/v1".into())));
    assert_eq!(m.methods, vec!["GET".to_string()]);
    let app = config.cluster("app").unwrap();
    assert_eq!(app.connect_timeout, Duration::from_millis(250));
    assert_eq!(app.backends[0].weight.get(), 7);
}

#[test]
fn compound_durations_are_read() {
    let config = parse(
        "listeners:\n  web:\n    address: 127.0.0.1:1\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    connect_timeout: 1s500ms\n    idle_timeout: 1h30m\n    backends:\n      - address: 127.0.0.1:2\n\
         drain_timeout: 1m30s\n",
    )
    .unwrap();
    assert_eq!(config.drain_timeout, Duration::from_secs(90));
    let app = config.cluster("app").unwrap();
    assert_eq!(app.connect_timeout, Duration::from_millis(1500));
    assert_eq!(app.idle_timeout, Duration::from_secs(5400));
}

fn fixture(name: &str) -> sluicegate_config::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/valid")
        .join(name);
    parse_fixture(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn tunnel_idle_timeout_is_per_listener_with_a_default() {
    let config = fixture("tunnels.yaml");
    let timeout = |name: &str| {
        let listener = config.listeners.iter().find(|l| l.name.as_str() == name);
        listener.unwrap().tunnel_idle_timeout
    };
    assert_eq!(timeout("chat"), Duration::from_secs(90));
    assert_eq!(timeout("web"), defaults::TUNNEL_IDLE_TIMEOUT);
    assert_eq!(defaults::TUNNEL_IDLE_TIMEOUT, Duration::from_secs(3600));
}

#[test]
fn merge_keys_read_as_their_expanded_form() {
    let merged = fixture("merge.yaml");
    assert_eq!(merged, fixture("merge_expanded.yaml"));
    let api = merged.cluster("api").unwrap();
    assert_eq!(api.connect_timeout, Duration::from_millis(250));
    assert_eq!(api.response_timeout, Duration::from_secs(10));
    assert_eq!(api.backends[0].weight.get(), 5);
    assert_eq!(api.backends[1].weight.get(), 1);
    let reports = merged.cluster("reports").unwrap();
    assert_eq!(reports.response_timeout, Duration::from_secs(120));
    assert_eq!(reports.connect_timeout, Duration::from_secs(1));
}

#[test]
fn environment_variables_are_expanded_in_values() {
    let config = fixture("env.yaml");
    assert_eq!(config.listeners[0].address.to_string(), "127.0.0.1:8080");
    let app = config.cluster("app").unwrap();
    assert_eq!(app.connect_timeout, Duration::from_secs(90));
    assert_eq!(app.backends[0].address.to_string(), "127.0.0.1:9001");
    assert_eq!(app.backends[0].weight.get(), 3);
    assert!(config.access_log);
    let headers = &config.listeners[0].routes[0].matcher.headers;
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-price"), Some("5$"));
    assert_eq!(header("x-raw"), Some("$HOME and $"));
    // Typed as if unquoted, a number or boolean still reads as text where text is due.
    assert_eq!(header("x-on"), Some("true"));
    assert_eq!(header("x-n"), Some("3"));
}

#[test]
fn policy_keys_are_typed_with_their_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/policies.yaml");
    let config = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let policy = |name: &str| config.cluster(name).unwrap().policy.clone();
    assert_eq!(policy("a"), PolicySpec::Random);
    assert_eq!(policy("b"), PolicySpec::PowerOfTwo);
    assert_eq!(policy("c"), PolicySpec::LeastConnections);
    assert_eq!(
        policy("d"),
        PolicySpec::IpHash {
            hash_on: HashOn::SourceIp
        }
    );
    assert_eq!(
        policy("e"),
        PolicySpec::RingHash {
            hash_on: HashOn::Header("x-user".into()),
            points_per_weight: 100,
            balance_factor: Some(125),
        }
    );
    assert_eq!(
        policy("f"),
        PolicySpec::Maglev {
            hash_on: HashOn::Cookie("session".into()),
            table_size: 251,
            balance_factor: Some(150),
        }
    );
    assert_eq!(
        policy("g"),
        PolicySpec::RingHash {
            hash_on: HashOn::Path,
            points_per_weight: defaults::RING_POINTS_PER_WEIGHT,
            balance_factor: None,
        }
    );
    let slow = |name: &str| config.cluster(name).unwrap().slow_start;
    assert_eq!(slow("a"), Some(Duration::from_secs(30)));
    assert_eq!(slow("c"), Some(Duration::from_secs(60)));
    assert_eq!(slow("b"), None);
}

#[test]
fn health_keys_are_typed_with_their_defaults() {
    use sluicegate_config::{CheckKind, health_defaults as d};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/health.yaml");
    let config = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let api = config.cluster("api").unwrap();
    let check = api.health_check.as_ref().unwrap();
    let CheckKind::Http(http) = &check.kind else {
        panic!("expected an http check: {check:?}")
    };
    assert_eq!(http.path, "/healthz");
    assert_eq!(http.host.as_deref(), Some("example.internal"));
    assert!(http.expects(200) && http.expects(399) && http.expects(404));
    assert!(!http.expects(400) && !http.expects(500));
    assert_eq!((check.rise, check.fall, check.jitter_percent), (2, 3, 10));
    assert!(!check.initially_healthy);
    assert_eq!(api.panic_threshold, 50);
    let retries = api.retries.as_ref().unwrap();
    assert_eq!(retries.on.statuses, [502, 503, 504]);
    assert!(retries.on.connect_failure && retries.on.reset && !retries.on.timeout);

    let tcp = config.cluster("tcp").unwrap();
    let check = tcp.health_check.as_ref().unwrap();
    assert_eq!(check.kind, CheckKind::Tcp);
    assert_eq!((check.interval, check.timeout), (d::INTERVAL, d::TIMEOUT));
    assert!(check.initially_healthy);
    let outlier = tcp.outlier.as_ref().unwrap();
    assert_eq!(outlier.consecutive_failures, d::CONSECUTIVE_FAILURES);
    assert_eq!(
        (outlier.base_ejection, outlier.max_ejection),
        (Duration::from_secs(30), Duration::from_secs(300))
    );
    assert_eq!(tcp.panic_threshold, 0);
    let retries = tcp.retries.as_ref().unwrap();
    assert_eq!(
        (
            retries.attempts,
            retries.budget_percent,
            retries.min_concurrent
        ),
        (2, 50, 3)
    );
    assert_eq!(retries.backoff, Duration::from_millis(25));
}

#[test]
fn unreachable_is_on_by_default_and_can_be_tuned_or_turned_off() {
    use sluicegate_config::{UnreachableSpec, health_defaults as d};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/unreachable.yaml");
    let config = parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    let of = |name| config.cluster(name).unwrap().unreachable.clone();
    assert_eq!(
        of("default"),
        Some(UnreachableSpec {
            ejection: d::UNREACHABLE_EJECTION,
            max_ejection: d::UNREACHABLE_MAX_EJECTION,
        })
    );
    assert_eq!(
        of("tuned"),
        Some(UnreachableSpec {
            ejection: Duration::from_millis(500),
            max_ejection: Duration::from_secs(60),
        })
    );
    assert_eq!(of("off"), None);
}

#[test]
fn a_type_error_carries_its_path_apart_from_its_message() {
    // The admin API's 422 body and /status show `path` and `message` separately.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/types.yaml");
    let errors = parse(&std::fs::read_to_string(path).unwrap()).unwrap_err();
    let first = &errors.0[0];
    assert_eq!(first.path, "clusters.app.backends[0].weight");
    assert!(
        first.message.starts_with("invalid type: string"),
        "{first:?}"
    );
    assert!(first.message.ends_with("expected an integer"), "{first:?}");
}

#[test]
fn trusted_proxies_are_networks_with_host_bits_cleared() {
    let config = fixture("trusted_proxies.yaml");
    let nets: Vec<String> = config.listeners[0]
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    // 10.1.2.3/8 is 10.0.0.0/8 again, so it is kept once.
    assert_eq!(nets, ["10.0.0.0/8", "127.0.0.1/32", "fd00::/8", "::1/128"]);
    assert!(
        fixture("minimal.yaml").listeners[0]
            .trusted_proxies
            .is_empty()
    );
}

#[test]
fn a_backend_name_stands_for_every_address_it_resolves_to() {
    let config = fixture("names.yaml");
    let app = config.cluster("app").unwrap();
    let shown: Vec<(String, u32, bool)> = app
        .backends
        .iter()
        .map(|b| (b.to_string(), b.weight.get(), b.down))
        .collect();
    assert_eq!(
        shown,
        [
            ("localhost:9001 (127.0.0.1:9001)".to_string(), 3, false),
            ("localhost:9001 ([::1]:9001)".to_string(), 3, false),
            ("api.internal:8080 (10.0.0.1:8080)".to_string(), 1, true),
            ("api.internal:8080 (10.0.0.2:8080)".to_string(), 1, true),
            ("10.0.0.9:8080".to_string(), 1, false),
        ]
    );
    assert_eq!(app.backends[0].name.as_deref(), Some("localhost:9001"));
    assert_eq!(app.backends[4].name, None);
    let other = config.cluster("other").unwrap();
    assert_eq!(other.backends.len(), 2, "the same name in another cluster");
}

#[test]
fn ip_literals_are_never_looked_up_and_each_name_once() {
    let asked = Mutex::new(Vec::new());
    let resolver = |host: &str, port: u16| {
        asked.lock().unwrap().push(format!("{host}:{port}"));
        fixture_resolver(host, port)
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/names.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    parse_with(&text, &fixture_env, &resolver).unwrap();
    let mut asked = asked.into_inner().unwrap();
    asked.sort();
    assert_eq!(asked, ["api.internal:8080", "localhost:9001"]);
    let minimal = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/minimal.yaml"),
    )
    .unwrap();
    let never =
        |host: &str, _: u16| -> Result<Vec<SocketAddr>, String> { panic!("{host} looked up") };
    parse_with(&minimal, &fixture_env, &never).unwrap();
}

#[test]
fn only_a_failed_lookup_is_transient() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/minimal.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let named = text.replace("127.0.0.1:9001", "nosuch.invalid:9001");
    let errors = parse_fixture(&named).unwrap_err();
    assert!(errors.transient(), "{errors}");
    let also_invalid = named.replace("address: 127.0.0.1:8080", "address: 127.0.0.1:99999");
    let errors = parse_fixture(&also_invalid).unwrap_err();
    assert_eq!(errors.0.len(), 2, "{errors}");
    assert!(!errors.transient(), "the same text cannot pass: {errors}");
}

#[test]
fn tls_blocks_are_read_with_their_defaults() {
    use sluicegate_config::{Alpn, TlsVersion, tls_defaults};
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/tls.yaml"),
    )
    .unwrap();
    let config = parse(&text).unwrap();
    let https = config.listeners.iter().find(|l| l.name.as_str() == "https");
    let tls = https.unwrap().tls.as_ref().unwrap();
    assert_eq!(tls.certificates.len(), 2);
    assert_eq!(tls.certificates[1].key, Path::new("certs/wild.key"));
    assert_eq!(tls.default_certificate, 1);
    assert_eq!(tls.min_version, TlsVersion::V1_3);
    assert_eq!(tls.alpn, vec![Alpn::Http1]);
    assert_eq!(tls.handshake_timeout, Duration::from_secs(5));
    let minimal = config
        .listeners
        .iter()
        .find(|l| l.name.as_str() == "minimal");
    let tls = minimal.unwrap().tls.as_ref().unwrap();
    assert_eq!(tls.default_certificate, 0);
    assert_eq!(tls.min_version, TlsVersion::V1_2);
    assert_eq!(tls.alpn, vec![Alpn::H2, Alpn::Http1]);
    assert_eq!(tls.handshake_timeout, tls_defaults::HANDSHAKE_TIMEOUT);
}

#[test]
fn layer_4_listeners_read_their_cluster_routes_and_proxy_protocol() {
    use sluicegate_config::{HostMatch, l4_defaults};
    use sluicegate_core::{Protocol, ProxyVersion};
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/l4.yaml"),
    )
    .unwrap();
    let config = parse_fixture(&text).unwrap();
    let listener = |name: &str| {
        config
            .listeners
            .iter()
            .find(|l| l.name.as_str() == name)
            .unwrap()
    };
    let pg = listener("pg");
    assert_eq!(pg.protocol, Protocol::Tcp);
    let l4 = pg.l4.as_ref().unwrap();
    assert_eq!(l4.cluster.as_ref().unwrap().as_str(), "postgres");
    assert_eq!(l4.idle_timeout, Duration::from_secs(1800));
    let proxy = pg.proxy_protocol.as_ref().unwrap();
    assert_eq!(proxy.timeout, Duration::from_secs(3));
    assert_eq!(proxy.trusted.len(), 2);
    let edge = listener("edge-tls").l4.as_ref().unwrap();
    assert_eq!(edge.handshake_timeout, Duration::from_secs(5));
    assert_eq!(edge.idle_timeout, l4_defaults::IDLE_TIMEOUT);
    // Exact names before wildcards, whatever the file's order; names lower-cased.
    let snis: Vec<&HostMatch> = edge.sni_routes.iter().map(|r| &r.sni).collect();
    assert_eq!(
        snis,
        [
            &HostMatch::Exact("api.example.com".into()),
            &HostMatch::Suffix(".example.com".into())
        ]
    );
    assert!(
        listener("no-default")
            .l4
            .as_ref()
            .unwrap()
            .cluster
            .is_none()
    );
    assert!(listener("web").proxy_protocol.is_none() && listener("web").l4.is_none());
    let sent = |name: &str| config.cluster(name).unwrap().send_proxy_protocol;
    assert_eq!(sent("postgres"), Some(ProxyVersion::V2));
    assert_eq!(sent("wildcard-tls"), Some(ProxyVersion::V1));
    assert_eq!(sent("api-tls"), None);
}
