//! The layer-4 side of `listeners:`: what a `tcp` or `tls_passthrough` listener
//! forwards to (`cluster`, or SNI `routes` and `default_cluster`), its timeouts, and
//! the keys that apply to one kind of listener only, each refused on the other kind
//! with the kind it belongs to.

use std::collections::BTreeMap;

use sluicegate_core::{ClusterName, Protocol};

use crate::errors::Errors;
use crate::l4_spec::{L4Spec, SniRouteSpec, l4_defaults};
use crate::raw::{RawCluster, RawHashOn, RawListener};
use crate::spec::HostMatch;

/// The layer-4 part of listener `at` speaking `protocol`: `Some` for `tcp` and
/// `tls_passthrough` (with errors pushed for what is missing or does not apply),
/// `None` for `http` (with errors pushed for layer-4 keys given there).
pub(crate) fn l4(
    errors: &mut Errors<'_>,
    at: &str,
    l: &RawListener,
    protocol: Protocol,
    clusters: &BTreeMap<String, RawCluster>,
) -> Option<L4Spec> {
    if !protocol.is_l4() {
        let l4_keys = [
            ("cluster", l.cluster.is_some()),
            ("default_cluster", l.default_cluster.is_some()),
            ("idle_timeout", l.idle_timeout.is_some()),
            ("handshake_timeout", l.handshake_timeout.is_some()),
        ];
        let msg = "applies to tcp and tls_passthrough listeners only (an http listener routes with routes:)";
        refuse(errors, at, &l4_keys, msg);
        return None;
    }
    refuse(errors, at, &http_keys(l), "applies to http listeners only");
    let idle_timeout = errors.duration(
        format!("{at}.idle_timeout"),
        l.idle_timeout.as_deref(),
        l4_defaults::IDLE_TIMEOUT,
    );
    let handshake_timeout = errors.duration(
        format!("{at}.handshake_timeout"),
        l.handshake_timeout.as_deref(),
        l4_defaults::HANDSHAKE_TIMEOUT,
    );
    let (cluster, sni_routes) = match protocol {
        Protocol::TlsPassthrough => passthrough(errors, at, l, clusters),
        _ => (tcp(errors, at, l, clusters), Vec::new()),
    };
    Some(L4Spec {
        cluster,
        sni_routes,
        idle_timeout,
        handshake_timeout,
    })
}

/// The HTTP keys of `l` and whether each is set.
fn http_keys(l: &RawListener) -> [(&'static str, bool); 8] {
    [
        ("tunnel_idle_timeout", l.tunnel_idle_timeout.is_some()),
        ("keepalive_timeout", l.keepalive_timeout.is_some()),
        ("header_read_timeout", l.header_read_timeout.is_some()),
        ("request_body_timeout", l.request_body_timeout.is_some()),
        ("max_request_body", l.max_request_body.is_some()),
        ("trusted_proxies", !l.trusted_proxies.is_empty()),
        ("merge_slashes", l.merge_slashes.is_some()),
        ("escaped_slashes", l.escaped_slashes.is_some()),
    ]
}

/// Pushes `msg` for every key of `keys` that is set.
fn refuse(errors: &mut Errors<'_>, at: &str, keys: &[(&str, bool)], msg: &str) {
    for (key, _) in keys.iter().filter(|(_, set)| *set) {
        errors.push(format!("{at}.{key}"), msg);
    }
}

/// A `tcp` listener's cluster: required, and no routes (TLS termination is allowed:
/// `tls:` then plain bytes upstream, as HAProxy's `mode tcp` with `ssl` on the bind).
fn tcp(
    errors: &mut Errors<'_>,
    at: &str,
    l: &RawListener,
    clusters: &BTreeMap<String, RawCluster>,
) -> Option<ClusterName> {
    let msg = "a tcp listener forwards every connection to its cluster: set cluster:, not routes";
    refuse(errors, at, &[("routes", !l.routes.is_empty())], msg);
    let msg = "a tcp listener has one cluster: set cluster:";
    refuse(
        errors,
        at,
        &[("default_cluster", l.default_cluster.is_some())],
        msg,
    );
    let msg = "applies to tls_passthrough listeners only";
    refuse(
        errors,
        at,
        &[("handshake_timeout", l.handshake_timeout.is_some())],
        msg,
    );
    let Some(name) = &l.cluster else {
        errors.push(
            format!("{at}.cluster"),
            "missing (a tcp listener needs the cluster its connections go to)",
        );
        return None;
    };
    l4_cluster(errors, &format!("{at}.cluster"), name, clusters)
}

/// A `tls_passthrough` listener's default cluster and SNI routes, exact names first.
fn passthrough(
    errors: &mut Errors<'_>,
    at: &str,
    l: &RawListener,
    clusters: &BTreeMap<String, RawCluster>,
) -> (Option<ClusterName>, Vec<SniRouteSpec>) {
    let msg = "a tls_passthrough listener routes by SNI: set routes: and default_cluster:";
    refuse(errors, at, &[("cluster", l.cluster.is_some())], msg);
    let msg = "a tls_passthrough listener does not terminate TLS (use protocol: tcp with tls: to terminate it)";
    refuse(errors, at, &[("tls", l.tls.is_some())], msg);
    if l.routes.is_empty() && l.default_cluster.is_none() {
        let msg = "a tls_passthrough listener needs routes (by sni) or a default_cluster";
        errors.push(format!("{at}.routes"), msg);
    }
    let default = l
        .default_cluster
        .as_ref()
        .and_then(|name| l4_cluster(errors, &format!("{at}.default_cluster"), name, clusters));
    let mut routes = Vec::new();
    for (i, r) in l.routes.iter().enumerate() {
        let path = format!("{at}.routes[{i}]");
        let sni = sni_match(errors, &path, r.matcher.as_ref());
        let cluster = l4_cluster(errors, &format!("{path}.cluster"), &r.cluster, clusters);
        if r.rate_limit.is_some() {
            errors.push(format!("{path}.rate_limit"), "applies to http routes only (limit connections with the listener's connection_rate_limit)");
        }
        if let (Some(sni), Some(cluster)) = (sni, cluster) {
            routes.push(SniRouteSpec { sni, cluster });
        }
    }
    // Exact names before wildcards, file order within each (as for HTTP hosts).
    routes.sort_by_key(|r| matches!(r.sni, HostMatch::Suffix(_)));
    (default, routes)
}

/// The `sni` of a passthrough route's `match`: required, and the only condition.
fn sni_match(
    errors: &mut Errors<'_>,
    at: &str,
    m: Option<&crate::raw::RawMatch>,
) -> Option<HostMatch> {
    let Some(m) = m else {
        errors.push(
            format!("{at}.match"),
            "missing (a tls_passthrough route matches sni:)",
        );
        return None;
    };
    let http = [
        ("host", m.host.is_some()),
        ("path", m.path.is_some()),
        ("path_prefix", m.path_prefix.is_some()),
        ("methods", m.methods.is_some()),
        ("headers", m.headers.is_some()),
    ];
    let msg = "applies to http routes only (a tls_passthrough route matches sni:)";
    refuse(errors, &format!("{at}.match"), &http, msg);
    let Some(sni) = &m.sni else {
        errors.push(
            format!("{at}.match.sni"),
            "missing (the server name this route takes, e.g. api.example.com or *.example.com)",
        );
        return None;
    };
    crate::route_match::host_match(errors, &format!("{at}.match"), "sni", sni)
}

/// The cluster `name` a layer-4 listener forwards to: defined, and fit for bytes (no
/// HTTP/2 upstream, no hash of a request field).
fn l4_cluster(
    errors: &mut Errors<'_>,
    at: &str,
    name: &str,
    clusters: &BTreeMap<String, RawCluster>,
) -> Option<ClusterName> {
    let Some(c) = clusters.get(name) else {
        crate::listeners::unknown_cluster(errors, at.to_string(), name, clusters);
        return None;
    };
    if matches!(c.upstream_protocol.as_deref(), Some(p) if p != "http1") {
        let msg = format!(
            "cluster \"{name}\" speaks HTTP/2 to its backends (upstream_protocol): a layer-4 listener forwards bytes, not requests"
        );
        errors.push(at.to_string(), msg);
    }
    let request_key = match &c.hash_on {
        Some(RawHashOn::Name(n)) => n != "source_ip",
        Some(RawHashOn::Keyed(_)) => true,
        None => false,
    };
    if request_key {
        let msg = format!(
            "cluster \"{name}\" hashes a request field (hash_on): a layer-4 listener can hash only source_ip"
        );
        errors.push(at.to_string(), msg);
    }
    Some(ClusterName::new(name))
}
