//! Raw → validated: typed values, defaults, references; every error collected.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use sluicegate_core::{ClusterName, ListenerName, Protocol};

use crate::error::ConfigErrors;
use crate::errors::Errors;
use crate::raw::{RawAdmin, RawCluster, RawConfig, RawListener};
use crate::resolve::{Lookups, Resolver};
use crate::route_match::match_spec;
use crate::spec::{AdminSpec, ClusterSpec, Config, ListenerSpec, MatchSpec, RouteSpec, defaults};
use crate::{path_rules, trusted};

/// Validates raw config; `text` is the source, used only to locate errors. Backend
/// host names are looked up with `resolver`, each distinct one once.
pub(crate) fn validate(
    raw: &RawConfig,
    text: &str,
    resolver: Resolver<'_>,
) -> Result<Config, ConfigErrors> {
    let mut errors = Errors::new(text);
    if raw.listeners.is_empty() {
        errors.push("listeners", "at least one listener is required");
    }
    let lookups = Lookups::of(crate::backends::names(raw), resolver);
    let clusters: Vec<ClusterSpec> = raw
        .clusters
        .iter()
        .filter_map(|(name, c)| cluster(&mut errors, name, c, &lookups))
        .collect();
    let listeners = listeners(&mut errors, raw, &raw.clusters);
    let drain_timeout = errors.duration(
        "drain_timeout".into(),
        raw.drain_timeout.as_deref(),
        defaults::DRAIN_TIMEOUT,
    );
    let reload_debounce = errors.duration(
        "reload.debounce".into(),
        raw.reload.as_ref().and_then(|r| r.debounce.as_deref()),
        defaults::RELOAD_DEBOUNCE,
    );
    let admin = admin(&mut errors, raw.admin.as_ref());
    errors.finish()?;
    Ok(Config {
        listeners,
        clusters,
        drain_timeout,
        access_log: raw.access_log.unwrap_or(false),
        reload_debounce,
        admin,
    })
}

fn admin(errors: &mut Errors<'_>, raw: Option<&RawAdmin>) -> AdminSpec {
    let Some(raw) = raw else {
        return AdminSpec::default();
    };
    let allow_remote = raw.allow_remote.unwrap_or(false);
    let address = match raw
        .address
        .as_deref()
        .map(|a| a.trim().parse::<SocketAddr>())
    {
        None => defaults::ADMIN_ADDRESS,
        Some(Ok(address)) => {
            if !address.ip().is_loopback() && !allow_remote {
                errors.push(
                    "admin.address",
                    format!(
                        "{address} is not a loopback address: the admin API can reload and drain, \
                         so set admin.allow_remote: true to expose it"
                    ),
                );
            }
            address
        }
        Some(Err(_)) => {
            errors.push(
                "admin.address",
                format!(
                    "invalid socket address \"{}\" (expected IP:port, e.g. 127.0.0.1:9901)",
                    raw.address.as_deref().unwrap_or_default()
                ),
            );
            defaults::ADMIN_ADDRESS
        }
    };
    AdminSpec {
        address,
        allow_remote,
        metrics: raw.metrics.unwrap_or(true),
    }
}

fn listeners(
    errors: &mut Errors<'_>,
    raw: &RawConfig,
    clusters: &BTreeMap<String, RawCluster>,
) -> Vec<ListenerSpec> {
    let mut seen: BTreeMap<SocketAddr, &str> = BTreeMap::new();
    let mut out = Vec::new();
    for (name, l) in &raw.listeners {
        if let Ok(address) = l.address.trim().parse::<SocketAddr>()
            && address.port() != 0
            && let Some(other) = seen.insert(address, name)
        {
            errors.push(
                format!("listeners.{name}.address"),
                format!("address {address} is also used by listener \"{other}\""),
            );
        }
        out.extend(listener(errors, name, l, clusters));
    }
    out
}

fn listener(
    errors: &mut Errors<'_>,
    name: &str,
    l: &RawListener,
    clusters: &BTreeMap<String, RawCluster>,
) -> Option<ListenerSpec> {
    let at = format!("listeners.{name}");
    check_name(errors, &at, name);
    let address = socket_addr(errors, format!("{at}.address"), &l.address);
    let protocol = match l.protocol.as_deref() {
        None | Some("http") => Some(Protocol::Http),
        Some(other @ ("tcp" | "tls" | "https")) => {
            let msg = format!("protocol \"{other}\" is not supported yet (supported: http)");
            errors.push(format!("{at}.protocol"), msg);
            None
        }
        Some(other) => {
            let msg = format!("unknown protocol \"{other}\" (expected http)");
            errors.push(format!("{at}.protocol"), msg);
            None
        }
    };
    if l.routes.is_empty() {
        errors.push(
            format!("{at}.routes"),
            "an http listener needs at least one route",
        );
    }
    let mut routes = Vec::new();
    for (i, r) in l.routes.iter().enumerate() {
        let path = format!("{at}.routes[{i}]");
        let matcher = match &r.matcher {
            Some(m) => match_spec(errors, &format!("{path}.match"), m),
            None => Some(MatchSpec::default()),
        };
        if !clusters.contains_key(&r.cluster) {
            let msg = format!(
                "unknown cluster \"{}\"{}",
                r.cluster,
                suggest(&r.cluster, clusters)
            );
            errors.push(format!("{path}.cluster"), msg);
        }
        if let Some(matcher) = matcher {
            routes.push(RouteSpec {
                matcher,
                cluster: ClusterName::new(&r.cluster),
            });
        }
    }
    let trusted_proxies =
        trusted::trusted_proxies(errors, &format!("{at}.trusted_proxies"), &l.trusted_proxies);
    let escaped_slashes = path_rules::escaped_slashes(
        errors,
        &format!("{at}.escaped_slashes"),
        l.escaped_slashes.as_deref(),
    );
    Some(ListenerSpec {
        name: ListenerName::new(name),
        address: address?,
        protocol: protocol?,
        routes,
        trusted_proxies,
        merge_slashes: l.merge_slashes.unwrap_or(true),
        escaped_slashes,
    })
}

/// " (did you mean \"api\"?)" when a defined cluster is one edit away.
fn suggest(name: &str, clusters: &BTreeMap<String, RawCluster>) -> String {
    clusters
        .keys()
        .find(|k| edit_distance(k, name) <= 2)
        .map(|k| format!(" (did you mean \"{k}\"?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn check_name(errors: &mut Errors<'_>, at: &str, name: &str) {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        errors.push(
            at,
            format!("invalid name \"{name}\" (use letters, digits, '-' and '_')"),
        );
    }
}

fn socket_addr(errors: &mut Errors<'_>, at: String, text: &str) -> Option<SocketAddr> {
    match text.trim().parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            errors.push(
                at,
                format!("invalid socket address \"{text}\" (expected IP:port, e.g. 127.0.0.1:8080 or [::1]:8080)"),
            );
            None
        }
    }
}

fn cluster(
    errors: &mut Errors<'_>,
    name: &str,
    c: &RawCluster,
    lookups: &Lookups,
) -> Option<ClusterSpec> {
    let at = format!("clusters.{name}");
    check_name(errors, &at, name);
    let backends = crate::backends::backends(errors, &at, &c.backends, lookups);
    // A name stands for all its addresses; an entry in error still counts as one.
    let count = backends.len().max(c.backends.len());
    let policy = crate::policy::policy(errors, &at, c, count);
    let connect_timeout = errors.duration(
        format!("{at}.connect_timeout"),
        c.connect_timeout.as_deref(),
        defaults::CONNECT_TIMEOUT,
    );
    let response_timeout = errors.duration(
        format!("{at}.response_timeout"),
        c.response_timeout.as_deref(),
        defaults::RESPONSE_TIMEOUT,
    );
    let idle_timeout = errors.duration(
        format!("{at}.idle_timeout"),
        c.idle_timeout.as_deref(),
        defaults::IDLE_TIMEOUT,
    );
    let slow_start = c
        .slow_start
        .as_deref()
        .map(|raw| errors.duration(format!("{at}.slow_start"), Some(raw), Duration::ZERO));
    Some(ClusterSpec {
        name: ClusterName::new(name),
        policy: policy?,
        connect_timeout,
        response_timeout,
        idle_timeout,
        slow_start: slow_start.filter(|d| !d.is_zero()),
        backends,
        health_check: c
            .health_check
            .as_ref()
            .map(|h| crate::health::health_check(errors, &format!("{at}.health_check"), h)),
        outlier: c
            .outlier
            .as_ref()
            .map(|o| crate::health::outlier(errors, &format!("{at}.outlier"), o)),
        unreachable: crate::health::unreachable(
            errors,
            &format!("{at}.unreachable"),
            c.unreachable.as_ref(),
        ),
        panic_threshold: crate::health::panic_threshold(errors, &at, c.panic_threshold.as_ref()),
        retries: c
            .retries
            .as_ref()
            .map(|r| crate::health::retries(errors, &format!("{at}.retries"), r)),
    })
}
