//! A cluster as the effective config writes it: policy, backends, health checks,
//! outlier detection, retries (see [`super`]).

use std::time::Duration;

use serde_yaml::{Mapping, Value};

use super::{duration, map, number, percent};
use crate::discovery_spec::{DiscoverySpec, DnsQuery, DnsSpec, EtcdSpec, SourceSpec};
use crate::health_spec::{CheckKind, HealthCheckSpec, OutlierSpec, UnreachableSpec};
use crate::policy_spec::{HashOn, PolicySpec};
use crate::retry_spec::RetrySpec;
use crate::spec::{BackendSpec, ClusterSpec};

pub(super) fn cluster(c: &ClusterSpec) -> Value {
    let mut out = map([("policy", Value::from(c.policy.name()))]);
    policy(&mut out, &c.policy);
    out.extend(map([
        ("connect_timeout", duration(c.connect_timeout)),
        ("response_timeout", duration(c.response_timeout)),
        ("response_body_timeout", duration(c.response_body_timeout)),
        ("idle_timeout", duration(c.idle_timeout)),
        ("upstream_protocol", Value::from(c.upstream_protocol.name())),
    ]));
    if let Some(limit) = c.max_connections {
        out.insert("max_connections".into(), Value::from(limit));
        out.insert("max_pending".into(), Value::from(c.queue.max_pending));
        out.insert("queue_timeout".into(), duration(c.queue.timeout));
    }
    if let Some(keepalive) = c.h2_keepalive {
        out.insert("h2_keepalive".into(), duration(keepalive));
    }
    if let Some(t) = &c.tls {
        let mut tls = map([("verify", Value::from(t.verify))]);
        if let Some(sni) = &t.sni {
            tls.insert("sni".into(), Value::from(sni.as_str()));
        }
        if let Some(ca) = &t.ca {
            tls.insert("ca".into(), Value::from(ca.to_string_lossy().into_owned()));
        }
        out.insert("tls".into(), Value::Mapping(tls));
    }
    if let Some(slow_start) = c.slow_start {
        out.insert("slow_start".into(), duration(slow_start));
    }
    if let Some(check) = &c.health_check {
        out.insert("health_check".into(), health_check(check));
    }
    if let Some(o) = &c.outlier {
        out.insert("outlier".into(), outlier(o));
    }
    out.extend(map([
        ("unreachable", unreachable(c.unreachable.as_ref())),
        ("panic_threshold", percent(c.panic_threshold)),
    ]));
    if let Some(r) = &c.retries {
        out.insert("retries".into(), retries(r));
    }
    if let Some(v) = c.send_proxy_protocol {
        out.insert("send_proxy_protocol".into(), Value::from(v.name()));
    }
    match &c.discovery {
        // The discovered set is the source's, not the file's: printed, it would no
        // longer read back (a cluster has backends or discovery).
        Some(d) => {
            out.insert("discovery".into(), discovery(d));
        }
        None => {
            out.insert("backends".into(), c.backends.iter().map(backend).collect());
        }
    }
    Value::Mapping(out)
}

/// The keys that go with the policy: `hash_on`, `ring`, `maglev`, `hash_balance_factor`.
fn policy(out: &mut Mapping, p: &PolicySpec) {
    if let Some(key) = p.hash_on() {
        out.insert("hash_on".into(), hash_on(key));
    }
    let balance_factor = match p {
        PolicySpec::RingHash {
            points_per_weight,
            balance_factor,
            ..
        } => {
            let ring = map([("points_per_weight", number(*points_per_weight))]);
            out.insert("ring".into(), Value::Mapping(ring));
            balance_factor
        }
        PolicySpec::Maglev {
            table_size,
            balance_factor,
            ..
        } => {
            let maglev = map([("table_size", number(*table_size))]);
            out.insert("maglev".into(), Value::Mapping(maglev));
            balance_factor
        }
        _ => &None,
    };
    if let Some(factor) = balance_factor {
        out.insert("hash_balance_factor".into(), number(*factor));
    }
}

fn hash_on(h: &HashOn) -> Value {
    let keyed = |kind: &str, name: &str| Value::Mapping(map([(kind, Value::from(name))]));
    match h {
        HashOn::SourceIp => "source_ip".into(),
        HashOn::Path => "path".into(),
        HashOn::Header(name) => keyed("header", name),
        HashOn::Cookie(name) => keyed("cookie", name),
        HashOn::Query(name) => keyed("query", name),
    }
}

/// A backend; `address` comes first, which [`super::name_comments`] relies on.
fn backend(b: &BackendSpec) -> Value {
    Value::Mapping(map([
        ("address", Value::from(b.address.to_string())),
        ("weight", number(b.weight.get())),
        ("down", Value::from(b.down)),
    ]))
}

fn discovery(d: &DiscoverySpec) -> Value {
    let source = match &d.source {
        SourceSpec::Dns(spec) => ("dns", dns(spec)),
        SourceSpec::Etcd(spec) => ("etcd", etcd(spec)),
    };
    Value::Mapping(map([
        (source.0, Value::Mapping(source.1)),
        ("empty", Value::from(d.empty.name())),
    ]))
}

fn dns(dns: &DnsSpec) -> Mapping {
    let mut out = match &dns.query {
        DnsQuery::Addresses { name, port } => map([
            ("name", Value::from(name.as_str())),
            ("port", Value::from(*port)),
        ]),
        DnsQuery::Srv { name } => map([("srv", Value::from(name.as_str()))]),
    };
    out.insert("refresh".into(), duration(dns.refresh));
    if let Some(resolver) = dns.resolver {
        out.insert("resolver".into(), Value::from(resolver.to_string()));
    }
    out
}

fn etcd(etcd: &EtcdSpec) -> Mapping {
    let endpoints = etcd.endpoints.iter().map(|e| Value::from(e.as_str()));
    let mut out = map([
        ("endpoints", endpoints.collect()),
        ("prefix", Value::from(etcd.prefix.as_str())),
        ("timeout", duration(etcd.timeout)),
    ]);
    if let Some((user, password)) = &etcd.credentials {
        out.insert("username".into(), Value::from(user.as_str()));
        out.insert("password".into(), Value::from(password.as_str()));
    }
    if let Some(tls) = &etcd.tls {
        let path = |p: &std::path::Path| Value::from(p.to_string_lossy().into_owned());
        let mut t = Mapping::new();
        if let Some(ca) = &tls.ca {
            t.insert("ca".into(), path(ca));
        }
        if let Some((cert, key)) = &tls.identity {
            t.insert("cert".into(), path(cert));
            t.insert("key".into(), path(key));
        }
        out.insert("tls".into(), Value::Mapping(t));
    }
    out
}

fn health_check(h: &HealthCheckSpec) -> Value {
    let mut out = Mapping::new();
    match &h.kind {
        CheckKind::Tcp => {
            out.insert("type".into(), "tcp".into());
        }
        CheckKind::Http(http) => {
            out.extend(map([
                ("type", "http".into()),
                ("path", Value::from(http.path.as_str())),
                ("method", Value::from(http.method.as_str())),
            ]));
            if let Some(host) = &http.host {
                out.insert("host".into(), Value::from(host.as_str()));
            }
            let expect = http.expect.iter().map(|&(lo, hi)| status_range(lo, hi));
            out.insert("expect_status".into(), expect.collect());
        }
    }
    let state = if h.initially_healthy {
        "healthy"
    } else {
        "unhealthy"
    };
    out.extend(map([
        ("interval", duration(h.interval)),
        ("timeout", duration(h.timeout)),
        ("rise", number(h.rise)),
        ("fall", number(h.fall)),
        ("jitter", percent(h.jitter_percent)),
        ("initial_state", state.into()),
    ]));
    Value::Mapping(out)
}

/// `200` for a single status, `"200-399"` for a range.
fn status_range(lo: u16, hi: u16) -> Value {
    if lo == hi {
        number(u32::from(lo))
    } else {
        format!("{lo}-{hi}").into()
    }
}

fn outlier(o: &OutlierSpec) -> Value {
    Value::Mapping(map([
        ("consecutive_failures", number(o.consecutive_failures)),
        ("base_ejection", duration(o.base_ejection)),
        ("max_ejection", duration(o.max_ejection)),
        ("max_ejected_percent", percent(o.max_ejected_percent)),
    ]))
}

/// On by default; off is written the way the file turns it off, `ejection: 0s`.
fn unreachable(u: Option<&UnreachableSpec>) -> Value {
    Value::Mapping(match u {
        Some(u) => map([
            ("ejection", duration(u.ejection)),
            ("max_ejection", duration(u.max_ejection)),
        ]),
        None => map([("ejection", duration(Duration::ZERO))]),
    })
}

fn retries(r: &RetrySpec) -> Value {
    let names = [
        ("connect_failure", r.on.connect_failure),
        ("reset", r.on.reset),
        ("timeout", r.on.timeout),
    ];
    let on = names
        .into_iter()
        .filter(|(_, on)| *on)
        .map(|(name, _)| Value::from(name))
        .chain(r.on.statuses.iter().map(|s| number(u32::from(*s))));
    Value::Mapping(map([
        ("attempts", number(r.attempts)),
        ("on", on.collect()),
        ("budget", percent(r.budget_percent)),
        ("min_concurrent", number(r.min_concurrent)),
        ("backoff", duration(r.backoff)),
    ]))
}
