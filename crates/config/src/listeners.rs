//! `listeners:`: addresses, protocols and routes, each route's cluster checked against
//! the defined ones.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use sluicegate_core::{ClusterName, ListenerName, Protocol};

use crate::errors::Errors;
use crate::listener_tls::listener_tls;
use crate::names::check_name;
use crate::raw::{RawCluster, RawConfig, RawListener};
use crate::route_match::match_spec;
use crate::spec::{ListenerSpec, MatchSpec, RouteSpec, defaults};
use crate::{path_rules, trusted};

/// Largest `max_connections` (a listener's or the process's): far past any fd limit.
pub(crate) const MAX_CONNECTIONS: u32 = 10_000_000;
/// Largest `max_request_body`: 1 TiB (an upload past it is not a request body).
const MAX_REQUEST_BODY: u64 = 1 << 40;

/// Every valid listener; two listeners on one address (other than port 0) are an
/// error.
pub(crate) fn listeners(
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

/// Listener `name`, or `None` when its address or protocol is unusable.
fn listener(
    errors: &mut Errors<'_>,
    name: &str,
    l: &RawListener,
    clusters: &BTreeMap<String, RawCluster>,
) -> Option<ListenerSpec> {
    let at = format!("listeners.{name}");
    check_name(errors, &at, name);
    let address = socket_addr(errors, format!("{at}.address"), &l.address);
    let protocol = protocol(errors, &at, l.protocol.as_deref());
    let tunnel_idle_timeout = errors.duration(
        format!("{at}.tunnel_idle_timeout"),
        l.tunnel_idle_timeout.as_deref(),
        defaults::TUNNEL_IDLE_TIMEOUT,
    );
    let keepalive_timeout = errors.duration(
        format!("{at}.keepalive_timeout"),
        l.keepalive_timeout.as_deref(),
        defaults::KEEPALIVE_TIMEOUT,
    );
    let header_read_timeout = errors.duration(
        format!("{at}.header_read_timeout"),
        l.header_read_timeout.as_deref(),
        defaults::HEADER_READ_TIMEOUT,
    );
    let request_body_timeout = errors.duration(
        format!("{at}.request_body_timeout"),
        l.request_body_timeout.as_deref(),
        defaults::REQUEST_BODY_TIMEOUT,
    );
    let send_timeout = errors.duration(
        format!("{at}.send_timeout"),
        l.send_timeout.as_deref(),
        defaults::SEND_TIMEOUT,
    );
    let max_connections = crate::numbers::count(
        errors,
        format!("{at}.max_connections"),
        l.max_connections,
        defaults::LISTENER_MAX_CONNECTIONS,
        1,
        MAX_CONNECTIONS,
    );
    let connection_rate_limit = l.connection_rate_limit.as_ref().and_then(|raw| {
        crate::rate_limit::connection_rate_limit(
            errors,
            &format!("{at}.connection_rate_limit"),
            raw,
        )
    });
    let max_request_body = l.max_request_body.as_ref().and_then(|raw| {
        let at = format!("{at}.max_request_body");
        crate::size::size(errors, at, raw, 0, MAX_REQUEST_BODY)
    });
    let l4 = protocol.and_then(|p| crate::l4_listener::l4(errors, &at, l, p, clusters));
    let proxy_protocol = crate::proxy_protocol::accept(errors, &at, l.proxy_protocol.as_ref());
    let routes = match protocol {
        Some(Protocol::Http) => routes(errors, &at, l, clusters),
        _ => Vec::new(),
    };
    let trusted_proxies =
        trusted::trusted_proxies(errors, &format!("{at}.trusted_proxies"), &l.trusted_proxies);
    let escaped_slashes = path_rules::escaped_slashes(
        errors,
        &format!("{at}.escaped_slashes"),
        l.escaped_slashes.as_deref(),
    );
    // `None`: cleartext; `Some(None)`: a `tls:` block with errors (already reported).
    let tls = l
        .tls
        .as_ref()
        .map(|raw| listener_tls(errors, &format!("{at}.tls"), raw));
    let tls = match tls {
        None => None,
        Some(spec) => Some(spec?),
    };
    Some(ListenerSpec {
        name: ListenerName::new(name),
        address: address?,
        protocol: protocol?,
        tunnel_idle_timeout,
        keepalive_timeout,
        header_read_timeout,
        request_body_timeout,
        send_timeout,
        max_connections,
        connection_rate_limit,
        max_request_body,
        routes,
        trusted_proxies,
        merge_slashes: l.merge_slashes.unwrap_or(true),
        escaped_slashes,
        tls,
        l4,
        proxy_protocol,
    })
}

/// `protocol:`: `http` (the default), `tcp` or `tls_passthrough`.
fn protocol(errors: &mut Errors<'_>, at: &str, protocol: Option<&str>) -> Option<Protocol> {
    let msg = match protocol {
        None | Some("http") => return Some(Protocol::Http),
        Some("tcp") => return Some(Protocol::Tcp),
        Some("tls_passthrough") => return Some(Protocol::TlsPassthrough),
        Some("https") => "use protocol: http with a tls: block to terminate TLS".to_string(),
        Some("tls") => "use protocol: tls_passthrough to forward TLS untouched by SNI, or protocol: tcp with a tls: block to terminate it".to_string(),
        Some(other) => format!(
            "unknown protocol \"{}\" (expected http, tcp or tls_passthrough)",
            crate::wording::echo(other)
        ),
    };
    errors.push(format!("{at}.protocol"), msg);
    None
}

/// The listener's routes that have a valid match; each route's cluster must be defined.
fn routes(
    errors: &mut Errors<'_>,
    at: &str,
    l: &RawListener,
    clusters: &BTreeMap<String, RawCluster>,
) -> Vec<RouteSpec> {
    if l.routes.is_empty() {
        let msg = "an http listener needs at least one route";
        errors.push(format!("{at}.routes"), msg);
    }
    let mut routes = Vec::new();
    for (i, r) in l.routes.iter().enumerate() {
        let path = format!("{at}.routes[{i}]");
        let matcher = match &r.matcher {
            Some(m) => match_spec(errors, &format!("{path}.match"), m),
            None => Some(MatchSpec::default()),
        };
        match clusters.get(&r.cluster) {
            None => unknown_cluster(errors, format!("{path}.cluster"), &r.cluster, clusters),
            Some(c)
                if c.send_proxy_protocol.is_some()
                    && matches!(c.upstream_protocol.as_deref(), Some("h2" | "h2c")) =>
            {
                // A header names the one client a connection opened for; an HTTP/2
                // connection carries every client's requests at once.
                let msg = format!(
                    "cluster \"{}\" sends the PROXY protocol (send_proxy_protocol) over HTTP/2 (upstream_protocol), whose connections carry many clients' requests at once, where a PROXY header names one: use upstream_protocol: http1 (each client gets connections of its own)",
                    r.cluster
                );
                errors.push(format!("{path}.cluster"), msg);
            }
            Some(_) => {}
        }
        let rate_limit = r
            .rate_limit
            .as_ref()
            .map(|raw| crate::rate_limit::rate_limit(errors, &format!("{path}.rate_limit"), raw));
        if let Some(matcher) = matcher {
            routes.push(RouteSpec {
                matcher,
                cluster: ClusterName::new(&r.cluster),
                rate_limit: rate_limit.flatten(),
            });
        }
    }
    routes
}

/// Pushes "unknown cluster" for `name` at `at`, with the defined one it is closest to.
pub(crate) fn unknown_cluster(
    errors: &mut Errors<'_>,
    at: String,
    name: &str,
    clusters: &BTreeMap<String, RawCluster>,
) {
    let msg = format!("unknown cluster \"{name}\"{}", suggest(name, clusters));
    errors.push(at, msg);
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
