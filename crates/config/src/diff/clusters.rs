//! What changed in the clusters: added, removed, and each kept one's policy,
//! backends, timeouts and limits (see [`super`]).

use std::collections::BTreeMap;

use super::{changed, count, pairs};
use crate::spec::{BackendSpec, ClusterSpec, Config};

/// Clusters added, removed or changed, by name.
pub(super) fn clusters(out: &mut Vec<String>, old: &Config, new: &Config) {
    let clusters = |c: &Config| -> BTreeMap<String, ClusterSpec> {
        c.clusters
            .iter()
            .map(|c| (c.name.to_string(), c.clone()))
            .collect()
    };
    for (name, pair) in pairs(clusters(old), clusters(new)) {
        match pair {
            (None, Some(c)) => out.push(format!(
                "cluster {name} added ({}, {})",
                count(c.backends.len(), "backend"),
                c.policy.name()
            )),
            (Some(_), None) => out.push(format!("cluster {name} removed")),
            (Some(a), Some(b)) => cluster(out, &name, &a, &b),
            (None, None) => {}
        }
    }
}

/// What changed in cluster `name`: backends, policy, timeouts, then health checking
/// and retries.
fn cluster(out: &mut Vec<String>, name: &str, a: &ClusterSpec, b: &ClusterSpec) {
    let at = format!("cluster {name}");
    backends(out, &at, a, b);
    if a.policy.name() != b.policy.name() {
        out.push(format!(
            "{at} policy {} → {}",
            a.policy.name(),
            b.policy.name()
        ));
    } else if a.policy != b.policy {
        out.push(format!("{at} {} parameters changed", b.policy.name()));
    }
    timeouts(out, &at, a, b);
    if a.upstream_protocol != b.upstream_protocol {
        let (x, y) = (a.upstream_protocol.name(), b.upstream_protocol.name());
        out.push(format!("{at} upstream_protocol {x} → {y}"));
    }
    for (key, differs) in [
        ("discovery", a.discovery != b.discovery),
        ("health_check", a.health_check != b.health_check),
        ("outlier", a.outlier != b.outlier),
        ("unreachable", a.unreachable != b.unreachable),
        ("retries", a.retries != b.retries),
        ("tls", a.tls != b.tls),
        ("h2_keepalive", a.h2_keepalive != b.h2_keepalive),
        (
            "send_proxy_protocol",
            a.send_proxy_protocol != b.send_proxy_protocol,
        ),
    ] {
        if differs {
            out.push(format!("{at} {key} changed"));
        }
    }
    changed(
        out,
        &format!("{at} panic_threshold"),
        &a.panic_threshold,
        &b.panic_threshold,
    );
}

/// Backends added and removed (counted), and changes to the ones kept, by address.
fn backends(out: &mut Vec<String>, at: &str, a: &ClusterSpec, b: &ClusterSpec) {
    let backends = |c: &ClusterSpec| -> BTreeMap<String, BackendSpec> {
        c.backends
            .iter()
            .map(|b| (b.address.to_string(), b.clone()))
            .collect()
    };
    let (mut added, mut removed) = (0, 0);
    for (address, pair) in pairs(backends(a), backends(b)) {
        match pair {
            (None, Some(_)) => added += 1,
            (Some(_), None) => removed += 1,
            (Some(x), Some(y)) => {
                if x.name != y.name {
                    out.push(format!("{at} {address} now given as {}", given_as(&y)));
                }
                changed(out, &format!("{at} {y} weight"), &x.weight, &y.weight);
                changed(out, &format!("{at} {y} down"), &x.down, &y.down);
            }
            (None, None) => {}
        }
    }
    if added > 0 {
        out.push(format!("{at} +{}", count(added, "backend")));
    }
    if removed > 0 {
        out.push(format!("{at} -{}", count(removed, "backend")));
    }
}

/// The cluster's connect, response, response body and idle timeouts and its slow start.
fn timeouts(out: &mut Vec<String>, at: &str, a: &ClusterSpec, b: &ClusterSpec) {
    changed(
        out,
        &format!("{at} connect_timeout"),
        &a.connect_timeout,
        &b.connect_timeout,
    );
    changed(
        out,
        &format!("{at} response_timeout"),
        &a.response_timeout,
        &b.response_timeout,
    );
    changed(
        out,
        &format!("{at} response_body_timeout"),
        &a.response_body_timeout,
        &b.response_body_timeout,
    );
    changed(
        out,
        &format!("{at} idle_timeout"),
        &a.idle_timeout,
        &b.idle_timeout,
    );
    changed(
        out,
        &format!("{at} max_connections"),
        &a.max_connections,
        &b.max_connections,
    );
    // The queue means something only with a connection limit.
    if a.max_connections.is_some() || b.max_connections.is_some() {
        changed(
            out,
            &format!("{at} max_pending"),
            &a.queue.max_pending,
            &b.queue.max_pending,
        );
        changed(
            out,
            &format!("{at} queue_timeout"),
            &a.queue.timeout,
            &b.queue.timeout,
        );
    }
    changed(
        out,
        &format!("{at} slow_start"),
        &a.slow_start,
        &b.slow_start,
    );
}

/// How the file gives a backend: by the name it was resolved from, or as an IP.
fn given_as(backend: &BackendSpec) -> String {
    backend
        .name
        .as_ref()
        .map_or_else(|| "an IP address".to_owned(), |name| name.clone())
}
