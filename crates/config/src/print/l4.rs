//! The layer-4 keys of a listener, and its `proxy_protocol:` (see [`super`]).

use serde_yaml::{Mapping, Value};
use sluicegate_core::Protocol;

use super::{duration, host_text, map};
use crate::l4_spec::{L4Spec, ProxyProtocolSpec};

/// The keys of a `tcp` or `tls_passthrough` listener.
pub(super) fn l4(l: &L4Spec, protocol: Protocol) -> Mapping {
    let mut out = map([("idle_timeout", duration(l.idle_timeout))]);
    let cluster = l.cluster.as_ref().map(|c| Value::from(c.as_str()));
    if protocol != Protocol::TlsPassthrough {
        if let Some(cluster) = cluster {
            out.insert("cluster".into(), cluster);
        }
        return out;
    }
    out.insert("handshake_timeout".into(), duration(l.handshake_timeout));
    if let Some(cluster) = cluster {
        out.insert("default_cluster".into(), cluster);
    }
    let routes = l.sni_routes.iter().map(|r| {
        let matcher = map([("sni", host_text(&r.sni))]);
        Value::Mapping(map([
            ("match", Value::Mapping(matcher)),
            ("cluster", Value::from(r.cluster.as_str())),
        ]))
    });
    out.insert("routes".into(), routes.collect());
    out
}

/// `proxy_protocol:` (written only when on).
pub(super) fn proxy_protocol(p: &ProxyProtocolSpec) -> Value {
    let trusted = p.trusted.iter().map(|n| Value::from(n.to_string()));
    Value::Mapping(map([
        ("accept", Value::from(true)),
        ("trusted", trusted.collect()),
        ("timeout", duration(p.timeout)),
    ]))
}
