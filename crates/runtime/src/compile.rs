//! Config → snapshot.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use sluicegate_balance::{AnyPolicy, RoundRobin};
use sluicegate_config::{ClusterSpec, Config, HostMatch, MatchSpec, PathMatch, PolicySpec};
use sluicegate_core::BackendKey;
use sluicegate_routing::{HostPattern, Matcher, PathPattern, Route, RouteTable};

use crate::{Backend, Cluster, Listener, Snapshot};

/// A validated config that still cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A route names a cluster the config does not define (validation prevents this).
    #[error("listeners.{listener}.routes[{route}].cluster: unknown cluster \"{cluster}\"")]
    UnknownCluster {
        /// Listener name.
        listener: String,
        /// Route index.
        route: usize,
        /// The missing cluster.
        cluster: String,
    },
    /// A route match that `http` rejects (validation prevents this).
    #[error("listeners.{listener}.routes[{route}].match: {message}")]
    InvalidMatch {
        /// Listener name.
        listener: String,
        /// Route index.
        route: usize,
        /// What is wrong.
        message: String,
    },
}

/// Compiles `config`. Per-backend state (in-flight counters) is carried over from
/// `previous` for backends with the same key, so a reload keeps it.
pub fn compile(config: &Config, previous: Option<&Snapshot>) -> Result<Snapshot, CompileError> {
    let carried: HashMap<&BackendKey, &Arc<AtomicU64>> = previous
        .into_iter()
        .flat_map(|s| s.clusters.iter())
        .flat_map(|c| c.backends.iter())
        .map(|b| (&b.key, b.counter()))
        .collect();
    let clusters: Vec<Arc<Cluster>> = config
        .clusters
        .iter()
        .map(|spec| Arc::new(cluster(spec, &carried)))
        .collect();
    let index: HashMap<&str, usize> = config
        .clusters
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let mut listeners = Vec::with_capacity(config.listeners.len());
    for spec in &config.listeners {
        let mut routes = Vec::with_capacity(spec.routes.len());
        for (i, route) in spec.routes.iter().enumerate() {
            let cluster =
                *index
                    .get(route.cluster.as_str())
                    .ok_or_else(|| CompileError::UnknownCluster {
                        listener: spec.name.to_string(),
                        route: i,
                        cluster: route.cluster.to_string(),
                    })?;
            let matcher =
                matcher(&route.matcher).map_err(|message| CompileError::InvalidMatch {
                    listener: spec.name.to_string(),
                    route: i,
                    message,
                })?;
            routes.push(Route { matcher, cluster });
        }
        listeners.push(Listener {
            name: spec.name.clone(),
            address: spec.address,
            protocol: spec.protocol,
            routes: RouteTable::new(routes),
        });
    }
    Ok(Snapshot {
        generation: previous.map_or(1, |p| p.generation + 1),
        listeners,
        clusters,
        drain_timeout: config.drain_timeout,
        access_log: config.access_log,
    })
}

fn cluster(spec: &ClusterSpec, carried: &HashMap<&BackendKey, &Arc<AtomicU64>>) -> Cluster {
    let backends: Vec<Backend> = spec
        .backends
        .iter()
        .map(|b| {
            let key = BackendKey {
                cluster: spec.name.clone(),
                address: b.address,
            };
            let counter = carried
                .get(&key)
                .map_or_else(Default::default, |c| Arc::clone(c));
            Backend::new(key, b.weight.get(), b.down, counter)
        })
        .collect();
    let weights: Vec<u32> = backends.iter().map(|b| b.weight).collect();
    let policy = match spec.policy {
        PolicySpec::RoundRobin => AnyPolicy::RoundRobin(RoundRobin::new(&weights)),
    };
    Cluster {
        name: spec.name.clone(),
        backends,
        policy,
        connect_timeout: spec.connect_timeout,
        response_timeout: spec.response_timeout,
        idle_timeout: spec.idle_timeout,
    }
}

fn matcher(spec: &MatchSpec) -> Result<Matcher, String> {
    let methods = spec
        .methods
        .iter()
        .map(|m| http::Method::from_bytes(m.as_bytes()).map_err(|e| format!("method \"{m}\": {e}")))
        .collect::<Result<_, _>>()?;
    let headers = spec
        .headers
        .iter()
        .map(|(name, value)| {
            http::HeaderName::from_bytes(name.as_bytes())
                .map(|n| (n, value.clone()))
                .map_err(|e| format!("header \"{name}\": {e}"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Matcher {
        host: spec.host.as_ref().map(|h| match h {
            HostMatch::Exact(h) => HostPattern::Exact(h.clone()),
            HostMatch::Suffix(s) => HostPattern::Suffix(s.clone()),
        }),
        path: spec.path.as_ref().map(|p| match p {
            PathMatch::Exact(p) => PathPattern::Exact(p.clone()),
            PathMatch::Prefix(p) => PathPattern::Prefix(p.clone()),
        }),
        methods,
        headers,
    })
}
