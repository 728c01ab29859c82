//! Config → snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use sluicegate_balance::{
    AnyPolicy, IpHash, LeastConnections, MAX_RING_POINTS, Maglev, PowerOfTwo, Random, RingHash,
    RoundRobin,
};
use sluicegate_config::{
    ClusterSpec, Config, EscapedSlashesSpec, HashOn, HostMatch, ListenerSpec, MatchSpec, PathMatch,
    PolicySpec,
};
use sluicegate_core::BackendKey;
use sluicegate_routing::{
    EscapedSlashes, HostPattern, Matcher, PathPattern, PathRules, Route, RouteTable,
};

use sluicegate_metrics::{
    BackendSeries, DiscoverySeries, HealthSeries, ListenerSeries, RetrySeries,
};

use crate::cluster::HealthCache;
use crate::cluster_health::cluster_health;
use crate::listener_tls::{ListenerTls, listener_tls};
use crate::origin::Origin;
use crate::previous::Previous;
use crate::retry::{RetryBudget, RetryPolicy};
use crate::self_target;
use crate::upstream_tls::{UpstreamTls, upstream_tls};
use crate::{Backend, Cluster, HashKey, Listener, Snapshot, TrustedProxies};

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
    /// A layer-4 listener names a cluster the config does not define (validation
    /// prevents this).
    #[error("listeners.{listener}: unknown cluster \"{cluster}\"")]
    UnknownL4Cluster {
        /// Listener name.
        listener: String,
        /// The missing cluster.
        cluster: String,
    },
    /// Certificate, key or CA files that cannot be used: `(YAML path, message)` each.
    #[error("{}", lines(.0))]
    Files(Vec<(String, String)>),
}

fn lines(errors: &[(String, String)]) -> String {
    let lines: Vec<String> = errors.iter().map(|(p, m)| format!("{p}: {m}")).collect();
    lines.join("; ")
}

impl CompileError {
    /// Each error as `(YAML path, message)`.
    pub fn errors(&self) -> Vec<(String, String)> {
        match self {
            CompileError::Files(errors) => errors.clone(),
            CompileError::UnknownL4Cluster { listener, cluster } => vec![(
                format!("listeners.{listener}"),
                format!("unknown cluster \"{cluster}\""),
            )],
            CompileError::UnknownCluster {
                listener, route, ..
            }
            | CompileError::InvalidMatch {
                listener, route, ..
            } => {
                let message = self.to_string();
                let path = format!("listeners.{listener}.routes[{route}]");
                let message = message
                    .split_once(": ")
                    .map_or(message.clone(), |(_, m)| m.to_owned());
                vec![(path, message)]
            }
        }
    }
}

/// Compiles `config`. A cluster of `previous` whose spec and routing listeners are
/// unchanged is reused as it is (the same `Arc`: see `origin.rs`). Of the others,
/// state of backends with the same key in `previous` (in-flight counters, slow-start
/// ramps, health) and of clusters with the same name (in-flight totals) is carried
/// over, so a reload keeps it.
pub fn compile(config: &Config, previous: Option<&Snapshot>) -> Result<Snapshot, CompileError> {
    self_target::warn_of_self_targets(config);
    let carried = Previous::of(previous);
    let index: HashMap<&str, usize> = config
        .clusters
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let routes = Routes::of(config, &index);
    let mut files = Vec::new();
    let mut clusters: Vec<Arc<Cluster>> = Vec::with_capacity(config.clusters.len());
    for (i, spec) in config.clusters.iter().enumerate() {
        let listeners = routes.listeners_of(i);
        if let Some(kept) = carried.unchanged(spec, &listeners) {
            clusters.push(kept);
            continue;
        }
        match upstream_tls(spec) {
            Ok(tls) => clusters.push(Arc::new(cluster(spec, &carried, &listeners, tls))),
            Err(error) => files.push(error),
        }
    }
    let mut listeners = Vec::with_capacity(config.listeners.len());
    for spec in &config.listeners {
        match listener_tls(spec, previous) {
            Ok(tls) => listeners.push(listener((config, previous), spec, &index, tls)?),
            Err(errors) => files.extend(errors),
        }
    }
    if !files.is_empty() {
        return Err(CompileError::Files(files));
    }
    Ok(Snapshot {
        generation: previous.map_or(1, |p| p.generation + 1),
        listeners,
        clusters,
        drain_timeout: config.drain_timeout,
        max_connections: config.max_connections,
        access_log: config.access_log,
    })
}

/// The compiled listener `spec`: its route table (cluster names resolved through
/// `index`), series, trusted proxies and path rules.
fn listener(
    (config, previous): (&Config, Option<&Snapshot>),
    spec: &ListenerSpec,
    index: &HashMap<&str, usize>,
    tls: Option<Arc<ListenerTls>>,
) -> Result<Listener, CompileError> {
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
        let matcher = matcher(&route.matcher).map_err(|message| CompileError::InvalidMatch {
            listener: spec.name.to_string(),
            route: i,
            message,
        })?;
        routes.push(Route { matcher, cluster });
    }
    let series = ListenerSeries::register(spec.name.as_str(), &routed_clusters(config, &routes));
    let l4 = crate::l4::l4_listener(spec, index)?;
    Ok(Listener {
        l4,
        proxy_protocol: crate::l4::proxy_protocol(spec),
        name: spec.name.clone(),
        address: spec.address,
        protocol: spec.protocol,
        tunnel_idle_timeout: spec.tunnel_idle_timeout,
        keepalive_timeout: spec.keepalive_timeout,
        header_read_timeout: spec.header_read_timeout,
        request_body_timeout: spec.request_body_timeout,
        send_timeout: spec.send_timeout,
        max_connections: spec.max_connections,
        connection_rate: crate::rate_limit::connection_limit(spec, previous),
        max_request_body: spec.max_request_body,
        routes: RouteTable::new(routes),
        rate_limits: crate::rate_limit::route_limits(spec, previous),
        series,
        trusted_proxies: TrustedProxies::new(spec.trusted_proxies.clone()),
        tls,
        path_rules: PathRules {
            merge_slashes: spec.merge_slashes,
            escaped_slashes: match spec.escaped_slashes {
                EscapedSlashesSpec::Keep => EscapedSlashes::Keep,
                EscapedSlashesSpec::Reject => EscapedSlashes::Reject,
                EscapedSlashesSpec::Decode => EscapedSlashes::Decode,
            },
        },
    })
}

/// Which listener routes to which cluster, for the metric series each pair needs.
struct Routes<'a> {
    config: &'a Config,
    /// `pairs[cluster][listener]`.
    pairs: Vec<Vec<bool>>,
}

impl<'a> Routes<'a> {
    fn of(config: &'a Config, index: &HashMap<&str, usize>) -> Self {
        let mut pairs = vec![vec![false; config.listeners.len()]; config.clusters.len()];
        for (l, listener) in config.listeners.iter().enumerate() {
            for route in &listener.routes {
                if let Some(row) = index
                    .get(route.cluster.as_str())
                    .and_then(|&c| pairs.get_mut(c))
                    && let Some(cell) = row.get_mut(l)
                {
                    *cell = true;
                }
            }
        }
        Self { config, pairs }
    }

    /// For each listener index, its name if it routes to cluster `cluster`.
    fn listeners_of(&self, cluster: usize) -> Vec<Option<&'a str>> {
        let row = self.pairs.get(cluster);
        self.config
            .listeners
            .iter()
            .enumerate()
            .map(|(l, spec)| {
                row.and_then(|r| r.get(l))
                    .copied()
                    .unwrap_or(false)
                    .then_some(spec.name.as_str())
            })
            .collect()
    }
}

/// For each cluster index, its name if `routes` (one listener's) lead to it.
fn routed_clusters<'a>(config: &'a Config, routes: &[Route]) -> Vec<Option<&'a str>> {
    config
        .clusters
        .iter()
        .enumerate()
        .map(|(i, c)| {
            routes
                .iter()
                .any(|r| r.cluster == i)
                .then_some(c.name.as_str())
        })
        .collect()
}

fn cluster(
    spec: &ClusterSpec,
    previous: &Previous<'_>,
    listeners: &[Option<&str>],
    tls: Option<UpstreamTls>,
) -> Cluster {
    let old = previous.clusters.get(spec.name.as_str());
    let in_flight = old.map_or_else(Default::default, |c| Arc::clone(&c.in_flight));
    let retries = old.map_or_else(Default::default, |c| Arc::clone(c.retry_counter()));
    let health = cluster_health(spec);
    let healthy = spec
        .health_check
        .as_ref()
        .is_none_or(|c| c.initially_healthy);
    let tracked =
        spec.health_check.is_some() || spec.outlier.is_some() || spec.unreachable.is_some();
    let backends: Vec<Backend> = spec
        .backends
        .iter()
        .map(|b| {
            let key = BackendKey {
                cluster: spec.name.clone(),
                address: b.address,
            };
            let carried = previous.backend(&key, b.down, spec.slow_start, healthy);
            let address = b.address.to_string();
            let series = BackendSeries::register(spec.name.as_str(), &address, listeners);
            let health_series = if tracked {
                HealthSeries::register(spec.name.as_str(), &address, spec.health_check.is_some())
            } else {
                HealthSeries::noop()
            };
            Backend::new(
                key,
                b.name.as_deref().map(Arc::from),
                b.weight.get(),
                b.down,
                carried,
                in_flight.clone(),
                (series, health_series),
            )
        })
        .collect();
    let retry = spec.retries.as_ref().map(RetryPolicy::of);
    let retry_series = if retry.is_some() {
        RetrySeries::register(spec.name.as_str())
    } else {
        RetrySeries::noop()
    };
    let discovery_series = spec
        .discovery
        .as_ref()
        .map(|_| DiscoverySeries::register(spec.name.as_str()));
    Cluster {
        name: spec.name.clone(),
        policy: policy(spec.name.as_str(), &spec.policy, &backends),
        hash_key: spec.policy.hash_on().map(hash_key),
        slow_start: spec.slow_start,
        backends,
        connect_timeout: spec.connect_timeout,
        response_timeout: spec.response_timeout,
        response_body_timeout: spec.response_body_timeout,
        idle_timeout: spec.idle_timeout,
        max_connections: spec.max_connections,
        max_pending: spec.queue.max_pending,
        queue_timeout: spec.queue.timeout,
        upstream_protocol: spec.upstream_protocol,
        h2_keepalive: spec.h2_keepalive,
        tls,
        send_proxy_protocol: spec.send_proxy_protocol,
        health,
        retry,
        retry_series,
        discovery_series,
        in_flight,
        retries: RetryBudget::new(retries),
        cache: HealthCache::default(),
        ejecting: std::sync::Mutex::new(()),
        origin: Origin::new(spec, listeners),
    }
}

/// Says so when a ring would have more than [`MAX_RING_POINTS`] points: the ring
/// then scales every backend's points down (shares stay proportional, placement is
/// coarser), which an operator who asked for more points should hear of.
fn warn_if_ring_capped(cluster: &str, points_per_weight: u32, weights: &[u32]) {
    let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    let asked = total.saturating_mul(u64::from(points_per_weight));
    if asked > MAX_RING_POINTS {
        tracing::warn!(
            cluster,
            "ring_hash: {asked} points asked ({points_per_weight} per unit of weight × total weight {total}) exceed the cap of {MAX_RING_POINTS}: every backend's points are scaled down to fit"
        );
    }
}

/// Builds the policy, with its tables, off the hot path.
fn policy(name: &str, spec: &PolicySpec, backends: &[Backend]) -> AnyPolicy {
    let weights: Vec<u32> = backends.iter().map(|b| b.weight).collect();
    let ids: Vec<String> = backends.iter().map(|b| b.address().to_string()).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    match spec {
        PolicySpec::Random => AnyPolicy::Random(Random::new(&weights)),
        PolicySpec::PowerOfTwo => AnyPolicy::PowerOfTwo(PowerOfTwo::new(&weights)),
        PolicySpec::RoundRobin => AnyPolicy::RoundRobin(RoundRobin::new(&weights)),
        PolicySpec::LeastConnections => {
            AnyPolicy::LeastConnections(LeastConnections::new(&weights))
        }
        PolicySpec::IpHash { .. } => AnyPolicy::IpHash(IpHash::new(&weights)),
        PolicySpec::RingHash {
            points_per_weight,
            balance_factor,
            ..
        } => {
            warn_if_ring_capped(name, *points_per_weight, &weights);
            AnyPolicy::RingHash(RingHash::new(
                &ids,
                &weights,
                *points_per_weight,
                *balance_factor,
            ))
        }
        PolicySpec::Maglev {
            table_size,
            balance_factor,
            ..
        } => AnyPolicy::Maglev(Maglev::new(&ids, &weights, *table_size, *balance_factor)),
    }
}

fn hash_key(spec: &HashOn) -> HashKey {
    match spec {
        HashOn::SourceIp => HashKey::SourceIp,
        HashOn::Path => HashKey::Path,
        // Validation admits only token characters; fall back to the client IP otherwise.
        HashOn::Header(name) => {
            http::HeaderName::from_bytes(name.as_bytes()).map_or(HashKey::SourceIp, HashKey::Header)
        }
        HashOn::Cookie(name) => HashKey::Cookie(name.clone()),
        HashOn::Query(name) => HashKey::Query(name.clone()),
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
        host: spec.host.as_ref().map(host_pattern),
        path: spec.path.as_ref().map(|p| match p {
            PathMatch::Exact(p) => PathPattern::Exact(p.clone()),
            PathMatch::Prefix(p) => PathPattern::Prefix(p.clone()),
        }),
        methods,
        headers,
    })
}

/// A host condition as the routing crate matches it (HTTP hosts and SNI names alike).
pub(crate) fn host_pattern(host: &HostMatch) -> HostPattern {
    match host {
        HostMatch::Exact(h) => HostPattern::Exact(h.clone()),
        HostMatch::Suffix(s) => HostPattern::Suffix(s.clone()),
    }
}
