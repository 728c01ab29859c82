//! The admin API of a real `sluicegate run` process: metrics move as requests pass,
//! reloads are counted and explained, drain survives reloads, removed backends'
//! series vanish, `/ready` flips during shutdown. Every wait is a poll with a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::SocketAddr;
use std::time::Duration;

use sluicegate_testkit::{
    APPLIED, Backend, Detached, PROCESS_WAIT, ProcessProxy, RefusingPort, blocking, free_port, poll,
};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

/// Time for series of removed objects to expire (the exporter's idle time is 10 s).
const EXPIRY: Duration = Duration::from_secs(40);

/// A config routing listener `web` to cluster `app` over `backends` (round-robin).
fn config_with(listen: SocketAddr, backends: &[SocketAddr], extra: &str) -> String {
    let mut yaml = format!(
        "listeners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    connect_timeout: 2s\n    backends:\n"
    );
    for b in backends {
        yaml.push_str(&format!("      - address: {b}\n"));
    }
    yaml.push_str("admin:\n  address: 127.0.0.1:0\n");
    yaml.push_str(extra);
    yaml
}

fn start(
    backends: &[SocketAddr],
    extra: &str,
) -> (tempfile::TempDir, std::path::PathBuf, ProcessProxy) {
    start_with(backends, extra, "")
}

/// Like `start`, with `cluster_keys` (indented YAML lines) added to cluster `app`.
fn start_with(
    backends: &[SocketAddr],
    extra: &str,
    cluster_keys: &str,
) -> (tempfile::TempDir, std::path::PathBuf, ProcessProxy) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    let yaml = config_with(listen, backends, extra).replace(
        "    connect_timeout: 2s\n",
        &format!("    connect_timeout: 2s\n{cluster_keys}"),
    );
    std::fs::write(&path, yaml).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, listen);
    (dir, path, proxy)
}

/// The value of the series of `name` whose labels include every one of `labels`
/// (`key="value"` each), summed if several match; `None` if none does.
fn metric(exposition: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let values: Vec<f64> = exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

fn scrape(proxy: &ProcessProxy) -> String {
    let (status, body) = proxy.admin_request("GET", "/metrics");
    assert_eq!(status, 200, "{body}");
    body
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn counters_move_per_backend_and_code_class() {
    let mut fakes = Detached::start();
    let a = fakes.named("a");
    // Held, never listening: it refuses, and no other test can take the port.
    let refusing = RefusingPort::new();
    let dead = refusing.addr();
    // No failover, no quick ejection: every second request meets the dead backend.
    let no_failover = "    unreachable: { ejection: 0s }\n    retries: { on: [reset] }\n";
    let (_dir, _path, proxy) = start_with(&[a, dead], "", no_failover);
    for _ in 0..6 {
        proxy.get();
    }
    let text = scrape(&proxy);
    let a_label = format!("backend=\"{a}\"");
    let dead_label = format!("backend=\"{dead}\"");
    let count = |labels: &[&str]| metric(&text, "sluicegate_requests_total", labels);
    assert_eq!(
        count(&[&a_label, "code=\"2xx\"", "listener=\"web\""]),
        Some(3.0),
        "{text}"
    );
    // A backend's classes appear when they first count: `a` never answered 5xx.
    assert_eq!(count(&[&a_label, "code=\"5xx\""]), None, "{text}");
    assert_eq!(count(&[&dead_label, "code=\"5xx\""]), Some(3.0), "{text}");
    assert_eq!(
        metric(
            &text,
            "sluicegate_upstream_connect_errors_total",
            &[&dead_label, "reason=\"refused\""]
        ),
        Some(3.0)
    );
    assert_eq!(
        metric(&text, "sluicegate_errors_total", &["kind=\"bad_gateway\""]),
        Some(3.0)
    );
    assert_eq!(
        metric(
            &text,
            "sluicegate_downstream_connections_total",
            &["listener=\"web\""]
        ),
        Some(6.0)
    );
    assert!(metric(&text, "sluicegate_bytes_received_total", &[]).unwrap() > 0.0);
    assert!(metric(&text, "sluicegate_bytes_sent_total", &[]).unwrap() > 0.0);
    assert_eq!(
        metric(
            &text,
            "sluicegate_backend_response_seconds_count",
            &[&a_label]
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "sluicegate_request_duration_seconds_count",
            &["cluster=\"app\""]
        ),
        Some(6.0)
    );
    assert_eq!(
        metric(&text, "sluicegate_backend_up", &[&a_label]),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "sluicegate_config_generation", &[]),
        Some(1.0)
    );
    assert!(
        metric(&text, "process_start_time_seconds", &[]).is_some_and(|v| v > 1.0e9),
        "{text}"
    );
    // Whole seconds (a counter): a young process may have used less than one.
    assert!(
        metric(&text, "process_cpu_seconds_total", &[]).is_some(),
        "{text}"
    );
    for name in ["process_resident_memory_bytes", "process_open_fds"] {
        assert!(
            metric(&text, name, &[]).is_some_and(|v| v > 0.0),
            "{name}: {text}"
        );
    }
    assert_eq!(
        metric(
            &text,
            "sluicegate_build_info",
            &["version=", "commit=", "rustc=\"rustc 1."]
        ),
        Some(1.0)
    );
    for name in [
        "sluicegate_requests_total",
        "sluicegate_request_duration_seconds",
        "sluicegate_backend_in_flight",
        "sluicegate_config_reloads_total",
        "sluicegate_config_last_reload_success_timestamp_seconds",
        "sluicegate_downstream_connections_active",
        "sluicegate_tunnels_active",
        "sluicegate_tunnels_total",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
    }
    // The next scrape still has every series of the live config.
    let again = scrape(&proxy);
    assert_eq!(
        metric(
            &again,
            "sluicegate_requests_total",
            &[&a_label, "code=\"2xx\""]
        ),
        Some(3.0)
    );
}

#[test]
fn a_failed_reload_is_counted_and_shown_with_its_path() {
    let mut fakes = Detached::start();
    let a = fakes.named("a");
    let (_dir, path, proxy) = start(&[a], "");
    let last_ok = |proxy: &ProcessProxy| {
        metric(
            &scrape(proxy),
            "sluicegate_config_last_reload_successful",
            &[],
        )
    };
    assert_eq!(last_ok(&proxy), Some(1.0), "after the start");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replace(&a.to_string(), "127.0.0.1:99999")).unwrap();
    let (status, body) = proxy.admin_request("POST", "/reload");
    assert_eq!(status, 422, "{body}");
    let answer = json(&body);
    assert_eq!(answer["result"], "error");
    assert_eq!(
        answer["errors"][0]["path"],
        "clusters.app.backends[0].address"
    );
    assert!(poll(APPLIED, || {
        metric(
            &scrape(&proxy),
            "sluicegate_config_reloads_total",
            &["result=\"error\""],
        )
        .is_some_and(|n| n >= 1.0)
    }));
    let status = json(&proxy.admin_request("GET", "/status").1);
    assert_eq!(status["last_reload"]["result"], "error");
    assert_eq!(
        status["last_reload"]["errors"][0]["path"],
        "clusters.app.backends[0].address"
    );
    assert!(status["last_reload"]["errors"][0]["line"].is_number());
    assert_eq!(status["generation"], 1);
    assert_eq!(proxy.get(), "a", "the running config keeps serving");
    assert_eq!(last_ok(&proxy), Some(0.0), "after the rejection");

    // The running config again: a success that changes nothing, generation kept.
    std::fs::write(&path, format!("# the same config\n{good}")).unwrap();
    let (status, body) = proxy.admin_request("POST", "/reload");
    assert_eq!(status, 200, "{body}");
    let answer = json(&body);
    assert_eq!(answer["result"], "success");
    assert_eq!(answer["generation"], 1, "{body}");
    assert_eq!(answer["changes"], serde_json::json!([]), "{body}");
    assert!(poll(APPLIED, || proxy
        .logged("reload: no changes, generation 1 keeps serving")));
    // A real change applies as generation 2.
    std::fs::write(
        &path,
        good.replace("connect_timeout: 2s", "connect_timeout: 3s"),
    )
    .unwrap();
    let (status, body) = proxy.admin_request("POST", "/reload");
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["generation"], 2, "{body}");
    let text = scrape(&proxy);
    assert!(
        metric(
            &text,
            "sluicegate_config_reloads_total",
            &["result=\"success\""]
        )
        .unwrap()
            >= 1.0
    );
    assert!(metric(&text, "sluicegate_config_generation", &[]).unwrap() >= 2.0);
    assert_eq!(last_ok(&proxy), Some(1.0), "after a success");
}

#[test]
fn a_drained_backend_gets_no_new_requests_even_after_a_reload() {
    let mut fakes = Detached::start();
    let (a, b, c) = (fakes.named("a"), fakes.named("b"), fakes.named("c"));
    let (_dir, path, proxy) = start(&[a, b], "");
    let (status, body) = proxy.admin_request("POST", &format!("/backends/app/{a}/drain"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["state"], "drained");
    for _ in 0..6 {
        assert_eq!(proxy.get(), "b");
    }
    let a_label = format!("backend=\"{a}\"");
    assert_eq!(
        metric(&scrape(&proxy), "sluicegate_backend_up", &[&a_label]),
        Some(0.0)
    );

    // A reload that keeps `a` keeps it drained.
    let listen = proxy.addr();
    std::fs::write(&path, config_with(listen, &[a, b, c], "")).unwrap();
    let (status, body) = proxy.admin_request("POST", "/reload");
    assert_eq!(status, 200, "{body}");
    let seen: Vec<String> = (0..8).map(|_| proxy.get()).collect();
    assert!(!seen.contains(&"a".to_string()), "{seen:?}");
    assert!(seen.contains(&"c".to_string()), "{seen:?}");
    let status = json(&proxy.admin_request("GET", "/status").1);
    assert_eq!(status["clusters"][0]["backends"][0]["state"], "drained");

    let (status, _) = proxy.admin_request("POST", &format!("/backends/app/{a}/enable"));
    assert_eq!(status, 200);
    assert!(poll(APPLIED, || proxy.get() == "a"));
    // The log is read from the child's stderr on a thread of its own: poll it.
    assert!(
        poll(APPLIED, || proxy
            .logged("backend enabled through the admin API: now up")),
        "{:?}",
        proxy.log()
    );

    // Unknown cluster or backend, bad address.
    assert_eq!(
        proxy
            .admin_request("POST", &format!("/backends/nope/{a}/drain"))
            .0,
        404
    );
    assert_eq!(
        proxy
            .admin_request("POST", "/backends/app/127.0.0.1:1/drain")
            .0,
        404
    );
    assert_eq!(
        proxy
            .admin_request("POST", "/backends/app/not-an-address/drain")
            .0,
        400
    );
}

#[test]
fn series_of_a_removed_backend_vanish() {
    let mut fakes = Detached::start();
    let (a, b) = (fakes.named("a"), fakes.named("b"));
    let (_dir, path, proxy) = start(&[a, b], "");
    for _ in 0..4 {
        proxy.get();
    }
    let b_label = format!("backend=\"{b}\"");
    assert!(scrape(&proxy).contains(&b_label));
    std::fs::write(&path, config_with(proxy.addr(), &[a], "")).unwrap();
    assert_eq!(proxy.admin_request("POST", "/reload").0, 200);
    assert!(
        poll(EXPIRY, || !scrape(&proxy).contains(&b_label)),
        "series of the removed backend remain: {:?}",
        scrape(&proxy)
            .lines()
            .filter(|l| l.contains(&b_label))
            .collect::<Vec<_>>()
    );
    let text = scrape(&proxy);
    let a_label = format!("backend=\"{a}\"");
    assert_eq!(
        metric(
            &text,
            "sluicegate_requests_total",
            &[&a_label, "code=\"2xx\""]
        ),
        Some(2.0),
        "the kept backend's series must stay: {text}"
    );
    // `a` was idle through the expiry: its histogram was dropped and renewed, so a
    // new sample shows up again.
    assert_eq!(proxy.get(), "a");
    let text = scrape(&proxy);
    assert_eq!(
        metric(
            &text,
            "sluicegate_backend_response_seconds_count",
            &[&a_label]
        ),
        Some(1.0),
        "an idle histogram must come back with its next sample: {text}"
    );
}

#[test]
fn ready_answers_503_while_draining() {
    let mut fakes = Detached::start();
    let slow = fakes.host(|| Backend::slow(Duration::from_secs(4)));
    let (_dir, _path, proxy) = start(&[slow], "drain_timeout: 20s\n");
    assert_eq!(proxy.admin_request("GET", "/ready").0, 200);
    assert_eq!(proxy.admin_request("GET", "/healthz").0, 200);
    let addr = proxy.addr();
    let in_flight = std::thread::spawn(move || blocking::request(addr, "GET", "/", ""));
    assert!(poll(PROCESS_WAIT, || {
        metric(&scrape(&proxy), "sluicegate_backend_in_flight", &[]) == Some(1.0)
    }));
    proxy.signal("TERM");
    assert!(
        poll(PROCESS_WAIT, || proxy.admin_request("GET", "/ready").0
            == 503),
        "/ready did not flip to 503"
    );
    assert_eq!(proxy.admin_request("GET", "/healthz").0, 200);
    let (status, body) = in_flight.join().unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "slow"),
        "the in-flight request finishes"
    );
}

#[test]
fn endpoints_answer_with_the_right_status() {
    let mut fakes = Detached::start();
    let a = fakes.named("a");
    let (_dir, _path, proxy) = start(&[a], "");
    let (status, page) = proxy.admin_request("GET", "/");
    assert_eq!(status, 200);
    assert!(page.contains("<html") || page.contains("<!doctype") || page.contains("<!DOCTYPE"));
    assert_eq!(proxy.admin_request("GET", "/nope").0, 404);
    assert_eq!(proxy.admin_request("GET", "/reload").0, 405);
    assert_eq!(proxy.admin_request("DELETE", "/metrics").0, 405);
    let cross = blocking::request(
        proxy.admin(),
        "POST",
        "/reload",
        "Origin: https://evil.example\r\n",
    );
    assert_eq!(cross.0, 403, "a cross-site POST must be refused");
    let status = json(&proxy.admin_request("GET", "/status").1);
    assert_eq!(status["clusters"][0]["policy"], "round_robin");
    assert_eq!(status["listeners"][0]["address"], proxy.addr().to_string());
}

#[test]
fn metrics_can_be_switched_off() {
    let mut fakes = Detached::start();
    let a = fakes.named("a");
    let (_dir, _path, proxy) = start(&[a], "  metrics: false\n");
    assert_eq!(proxy.get(), "a");
    let (status, body) = proxy.admin_request("GET", "/metrics");
    assert_eq!(status, 404);
    assert!(body.contains("admin.metrics: false"), "{body}");
    assert_eq!(proxy.admin_request("GET", "/status").0, 200);
}

#[test]
fn the_health_listener_serves_probes_and_metrics_and_nothing_that_changes_the_proxy() {
    let mut fakes = Detached::start();
    let backend = fakes.named("a");
    let health = free_port();
    let extra = format!("  health_address: {health}\n");
    let (_dir, _path, proxy) = start(&[backend], &extra);
    assert!(
        poll(PROCESS_WAIT, || proxy.logged("health endpoints on")),
        "{:?}",
        proxy.log()
    );
    assert_eq!(
        blocking::request(health, "GET", "/healthz", ""),
        (200, "ok\n".into())
    );
    assert_eq!(blocking::request(health, "GET", "/ready", "").0, 200);
    let (status, metrics) = blocking::request(health, "GET", "/metrics", "");
    assert_eq!(status, 200);
    assert!(metrics.contains("sluicegate_build_info"), "{metrics}");
    for (method, path) in [("GET", "/status"), ("GET", "/"), ("POST", "/reload")] {
        let (status, body) = blocking::request(health, method, path, "");
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
    let drain = "/backends/app/".to_owned() + &backend.to_string() + "/drain";
    assert_eq!(blocking::request(health, "POST", &drain, "").0, 404);
    // The admin API itself still answers them.
    assert_eq!(proxy.admin_request("GET", "/status").0, 200);
}
