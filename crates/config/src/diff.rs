//! What changed between two validated configs, as short human-readable items
//! (`cluster api +1 backend`, `cluster web policy round_robin → least_connections`),
//! for the reload log line and `sluicegate check --against`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::spec::{Config, ConnectionRateSpec, ListenerSpec};

mod clusters;
mod l4;
use clusters::clusters;

/// The changes from `old` to `new`, in a stable order; empty when nothing changed.
pub fn diff(old: &Config, new: &Config) -> Vec<String> {
    let mut out = Vec::new();
    changed(
        &mut out,
        "drain_timeout",
        &old.drain_timeout,
        &new.drain_timeout,
    );
    changed(&mut out, "access_log", &old.access_log, &new.access_log);
    changed(
        &mut out,
        "max_connections",
        &old.max_connections,
        &new.max_connections,
    );
    changed(
        &mut out,
        "admin.address",
        &old.admin.address,
        &new.admin.address,
    );
    changed(
        &mut out,
        "admin.metrics",
        &old.admin.metrics,
        &new.admin.metrics,
    );
    listeners(&mut out, old, new);
    clusters(&mut out, old, new);
    out
}

/// Listeners added, removed or changed, by name.
fn listeners(out: &mut Vec<String>, old: &Config, new: &Config) {
    let listeners = |c: &Config| -> BTreeMap<String, ListenerSpec> {
        c.listeners
            .iter()
            .map(|l| (l.name.to_string(), l.clone()))
            .collect()
    };
    for (name, pair) in pairs(listeners(old), listeners(new)) {
        match pair {
            (None, Some(l)) => out.push(format!("listener {name} added ({})", l.address)),
            (Some(_), None) => out.push(format!("listener {name} removed")),
            (Some(a), Some(b)) => listener(out, &name, &a, &b),
            (None, None) => {}
        }
    }
}

/// What changed in listener `name`.
fn listener(out: &mut Vec<String>, name: &str, a: &ListenerSpec, b: &ListenerSpec) {
    let at = format!("listener {name}");
    changed(out, &format!("{at} address"), &a.address, &b.address);
    l4::l4(out, &at, a, b);
    changed(
        out,
        &format!("{at} tunnel_idle_timeout"),
        &a.tunnel_idle_timeout,
        &b.tunnel_idle_timeout,
    );
    changed(
        out,
        &format!("{at} keepalive_timeout"),
        &a.keepalive_timeout,
        &b.keepalive_timeout,
    );
    changed(
        out,
        &format!("{at} header_read_timeout"),
        &a.header_read_timeout,
        &b.header_read_timeout,
    );
    changed(
        out,
        &format!("{at} request_body_timeout"),
        &a.request_body_timeout,
        &b.request_body_timeout,
    );
    changed(
        out,
        &format!("{at} send_timeout"),
        &a.send_timeout,
        &b.send_timeout,
    );
    changed(
        out,
        &format!("{at} max_connections"),
        &a.max_connections,
        &b.max_connections,
    );
    changed(
        out,
        &format!("{at} max_request_body"),
        &a.max_request_body,
        &b.max_request_body,
    );
    changed(
        out,
        &format!("{at} connection_rate_limit"),
        &a.connection_rate_limit,
        &b.connection_rate_limit,
    );
    if a.routes != b.routes {
        out.push(format!(
            "{at} routes changed ({} → {})",
            a.routes.len(),
            b.routes.len()
        ));
    }
    changed(
        out,
        &format!("{at} merge_slashes"),
        &a.merge_slashes,
        &b.merge_slashes,
    );
    if a.escaped_slashes != b.escaped_slashes {
        out.push(format!(
            "{at} escaped_slashes {} → {}",
            a.escaped_slashes.name(),
            b.escaped_slashes.name()
        ));
    }
    if a.trusted_proxies != b.trusted_proxies {
        let list = |l: &ListenerSpec| {
            let nets: Vec<String> = l.trusted_proxies.iter().map(ToString::to_string).collect();
            format!("[{}]", nets.join(", "))
        };
        out.push(format!("{at} trusted_proxies {} → {}", list(a), list(b)));
    }
    match (&a.tls, &b.tls) {
        (None, Some(_)) => out.push(format!("{at} tls added")),
        (Some(_), None) => out.push(format!("{at} tls removed")),
        (Some(x), Some(y)) if x != y => out.push(format!("{at} tls changed")),
        _ => {}
    }
}

/// Pushes `what a → b` when the values differ.
pub(super) fn changed<T: PartialEq + Shown>(out: &mut Vec<String>, what: &str, a: &T, b: &T) {
    if a != b {
        out.push(format!("{what} {} → {}", a.shown(), b.shown()));
    }
}

/// `1 backend`, `3 backends`.
pub(super) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A value as the YAML would write it (`30s`, `off`), not as Rust's debug text.
pub(super) trait Shown {
    fn shown(&self) -> String;
}

/// As `check --print` writes it (`1m`, `1s500ms`), so the two never disagree.
impl Shown for Duration {
    fn shown(&self) -> String {
        crate::print::duration_text(*self)
    }
}

impl Shown for Option<Duration> {
    fn shown(&self) -> String {
        self.as_ref().map_or_else(|| "off".to_owned(), Shown::shown)
    }
}

impl Shown for Option<u32> {
    fn shown(&self) -> String {
        self.map_or_else(|| "unlimited".to_owned(), |n| n.to_string())
    }
}

impl Shown for Option<u64> {
    fn shown(&self) -> String {
        self.map_or_else(|| "unlimited".to_owned(), |n| format!("{n} bytes"))
    }
}

impl Shown for Option<ConnectionRateSpec> {
    fn shown(&self) -> String {
        self.map_or_else(
            || "off".to_owned(),
            |r| format!("{}/s (burst {})", r.per_second, r.burst),
        )
    }
}

impl Shown for SocketAddr {
    fn shown(&self) -> String {
        self.to_string()
    }
}

macro_rules! shown_by_display {
    ($($t:ty),*) => { $(impl Shown for $t {
        fn shown(&self) -> String { self.to_string() }
    })* };
}
shown_by_display!(bool, u8, u32, std::num::NonZeroU32);

/// A key with its value before and after.
type Pair<V> = (String, (Option<V>, Option<V>));

/// Every key of either map with its value on each side.
pub(super) fn pairs<V>(mut a: BTreeMap<String, V>, b: BTreeMap<String, V>) -> Vec<Pair<V>> {
    let mut out: Vec<Pair<V>> = Vec::new();
    for (key, value) in b {
        let old = a.remove(&key);
        out.push((key, (old, Some(value))));
    }
    for (key, value) in a {
        out.push((key, (Some(value), None)));
    }
    out.sort_by(|x, y| x.0.cmp(&y.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn config(policy: &str, backends: &[&str]) -> Config {
        let mut yaml = format!(
            "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - cluster: api\nclusters:\n  api:\n    policy: {policy}\n    backends:\n"
        );
        for b in backends {
            yaml.push_str(&format!("      - address: {b}\n"));
        }
        parse(&yaml).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn names_backends_added_removed_and_policy_changes() {
        let old = config("round_robin", &["127.0.0.1:9001", "127.0.0.1:9002"]);
        let new = config(
            "least_connections",
            &["127.0.0.1:9001", "127.0.0.1:9003", "127.0.0.1:9004"],
        );
        assert_eq!(
            diff(&old, &new),
            [
                "cluster api +2 backends",
                "cluster api -1 backend",
                "cluster api policy round_robin → least_connections",
            ]
        );
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn a_name_for_the_same_address_is_the_same_backend() {
        let resolver = |host: &str, port: u16| match host {
            "localhost" => Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))]),
            _ => Err("no such host".to_owned()),
        };
        let parse = |backends: &str| {
            let yaml = format!(
                "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - cluster: api\nclusters:\n  api:\n    backends:\n{backends}"
            );
            crate::parse_with(&yaml, &|_| None, &resolver).unwrap_or_else(|e| panic!("{e}"))
        };
        let old = parse("      - address: 127.0.0.1:9001\n");
        let new = parse("      - address: localhost:9001\n        weight: 3\n");
        assert_eq!(
            diff(&old, &new),
            [
                "cluster api 127.0.0.1:9001 now given as localhost:9001",
                "cluster api localhost:9001 (127.0.0.1:9001) weight 1 → 3",
            ]
        );
        assert_eq!(
            diff(&new, &old),
            [
                "cluster api 127.0.0.1:9001 now given as an IP address",
                "cluster api 127.0.0.1:9001 weight 3 → 1",
            ]
        );
    }

    #[test]
    fn values_are_written_as_yaml_would_write_them() {
        let base = "listeners:\n  web:\n    address: 127.0.0.1:8080\n    routes:\n      - cluster: api\nclusters:\n  api:\n";
        let old = parse(&format!(
            "{base}    backends:\n      - address: 127.0.0.1:9001\n"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let new = parse(&format!(
            "{base}    slow_start: 30s\n    connect_timeout: 1500ms\n    response_body_timeout: 2m\n    backends:\n      - address: 127.0.0.1:9001\n        weight: 3\n  web:\n    backends:\n      - address: 127.0.0.1:9002\n"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            diff(&old, &new),
            [
                "cluster api 127.0.0.1:9001 weight 1 → 3",
                "cluster api connect_timeout 5s → 1s500ms",
                "cluster api response_body_timeout 1m → 2m",
                "cluster api slow_start off → 30s",
                "cluster web added (1 backend, round_robin)",
            ]
        );
    }

    #[test]
    fn a_listener_limit_change_is_named_with_its_values() {
        let config = |limit: &str| {
            let text = format!(
                "listeners:\n  web:\n    address: 127.0.0.1:8080\n{limit}    routes:\n      - cluster: api\nclusters:\n  api:\n    backends:\n      - address: 127.0.0.1:9001\n"
            );
            parse(&text).unwrap_or_else(|e| panic!("{e}"))
        };
        let off = config("");
        let on = config("    connection_rate_limit: { connections_per_second: 5, burst: 20 }\n");
        assert_eq!(
            diff(&off, &on),
            ["listener web connection_rate_limit off → 5/s (burst 20)"]
        );
        assert_eq!(diff(&on, &on), Vec::<String>::new());
    }
}
