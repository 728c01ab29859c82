//! What changed in a listener's protocol, its layer-4 keys and its PROXY protocol
//! (see [`super`]).

use super::changed;
use crate::spec::ListenerSpec;

/// Pushes the changes from `a` to `b` of listener `at`'s protocol, layer-4 keys and
/// `proxy_protocol`.
pub(super) fn l4(out: &mut Vec<String>, at: &str, a: &ListenerSpec, b: &ListenerSpec) {
    if a.protocol != b.protocol {
        let (x, y) = (a.protocol.name(), b.protocol.name());
        out.push(format!("{at} protocol {x} → {y}"));
    }
    if let (Some(x), Some(y)) = (&a.l4, &b.l4) {
        if x.cluster != y.cluster {
            let name = |c: &Option<sluicegate_core::ClusterName>| {
                c.as_ref().map_or("none".to_owned(), ToString::to_string)
            };
            let key = match b.protocol {
                sluicegate_core::Protocol::TlsPassthrough => "default_cluster",
                _ => "cluster",
            };
            out.push(format!(
                "{at} {key} {} → {}",
                name(&x.cluster),
                name(&y.cluster)
            ));
        }
        if x.sni_routes != y.sni_routes {
            let (m, n) = (x.sni_routes.len(), y.sni_routes.len());
            out.push(format!("{at} routes changed ({m} → {n})"));
        }
        let what = format!("{at} idle_timeout");
        changed(out, &what, &x.idle_timeout, &y.idle_timeout);
        let what = format!("{at} handshake_timeout");
        changed(out, &what, &x.handshake_timeout, &y.handshake_timeout);
    }
    match (&a.proxy_protocol, &b.proxy_protocol) {
        (None, Some(_)) => out.push(format!("{at} proxy_protocol on")),
        (Some(_), None) => out.push(format!("{at} proxy_protocol off")),
        (Some(x), Some(y)) if x != y => out.push(format!("{at} proxy_protocol changed")),
        _ => {}
    }
}
