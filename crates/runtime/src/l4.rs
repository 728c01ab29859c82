//! A layer-4 listener compiled: where its connections go (`tcp`: its cluster;
//! `tls_passthrough`: the cluster the ClientHello's server name routes to), its
//! timeouts and series; and the PROXY protocol a listener of any kind accepts.

use std::collections::HashMap;
use std::time::Duration;

use sluicegate_config::{L4Spec, ListenerSpec};
use sluicegate_metrics::L4ListenerSeries;
use sluicegate_routing::SniTable;

use crate::TrustedProxies;
use crate::compile::{CompileError, host_pattern};

/// What a `tcp` or `tls_passthrough` listener forwards to.
#[derive(Debug)]
pub struct L4Listener {
    /// Server names to cluster indices (into `Snapshot::clusters`); a `tcp`
    /// listener's table is its cluster as the default, with no names.
    pub routes: SniTable,
    /// How long a session may pass no byte either way. Read when a session opens.
    pub idle_timeout: Duration,
    /// `tls_passthrough`: the time a client has for its whole ClientHello.
    pub handshake_timeout: Duration,
    /// Its sessions' series.
    pub series: L4ListenerSeries,
}

/// PROXY protocol in, on a listener of any kind.
#[derive(Debug)]
pub struct ProxyProtocolIn {
    /// The peers allowed to send a header; any other peer's connection is closed.
    pub trusted: TrustedProxies,
    /// The time a sender has for its whole header.
    pub timeout: Duration,
    /// Where refused headers are counted (the listener's layer-4 series).
    pub series: L4ListenerSeries,
}

/// The layer-4 part of listener `spec`, clusters resolved through `index`; `None` for
/// an http listener.
pub(crate) fn l4_listener(
    spec: &ListenerSpec,
    index: &HashMap<&str, usize>,
) -> Result<Option<L4Listener>, CompileError> {
    let Some(l4) = &spec.l4 else {
        return Ok(None);
    };
    let find = |name: &str| {
        index
            .get(name)
            .copied()
            .ok_or_else(|| CompileError::UnknownL4Cluster {
                listener: spec.name.to_string(),
                cluster: name.to_string(),
            })
    };
    let routes = l4
        .sni_routes
        .iter()
        .map(|r| Ok((host_pattern(&r.sni), find(r.cluster.as_str())?)))
        .collect::<Result<Vec<_>, CompileError>>()?;
    let default = l4.cluster.as_ref().map(|c| find(c.as_str())).transpose()?;
    let L4Spec {
        idle_timeout,
        handshake_timeout,
        ..
    } = *l4;
    Ok(Some(L4Listener {
        routes: SniTable::new(routes, default),
        idle_timeout,
        handshake_timeout,
        series: L4ListenerSeries::register(spec.name.as_str()),
    }))
}

/// The listener's `proxy_protocol`, if on.
pub(crate) fn proxy_protocol(spec: &ListenerSpec) -> Option<ProxyProtocolIn> {
    spec.proxy_protocol.as_ref().map(|p| ProxyProtocolIn {
        trusted: TrustedProxies::new(p.trusted.clone()),
        timeout: p.timeout,
        // The same series as the listener's `L4Listener::series`, if it has one: a
        // handle for a live key is that handle.
        series: L4ListenerSeries::register(spec.name.as_str()),
    })
}
