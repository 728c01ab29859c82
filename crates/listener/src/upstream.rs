//! Pooled upstream HTTP clients, one per cluster, aligned with a snapshot's clusters.
//!
//! hyper-util's client pools keep-alive connections per backend authority and retries
//! a request whose reused connection turned out to be closed before anything was
//! sent, so a backend closing an idle connection never surfaces as a client error.

use std::sync::Arc;
use std::time::Duration;

use http::uri::Authority;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use sluicegate_runtime::{Cluster, Snapshot};

/// The client type used for every upstream request.
pub(crate) type HttpClient = Client<HttpConnector, Incoming>;

/// One cluster's client and its backends' URI authorities.
#[derive(Clone, Debug)]
pub(crate) struct ClusterUpstream {
    pub(crate) client: HttpClient,
    /// `authorities[i]` is backend `i`'s address, ready for the request URI.
    pub(crate) authorities: Vec<Authority>,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

/// Clients for every cluster of one snapshot, indexed like `Snapshot::clusters`.
#[derive(Debug)]
pub(crate) struct Upstreams {
    pub(crate) clusters: Vec<ClusterUpstream>,
}

impl Upstreams {
    /// Builds clients for `snapshot`, reusing (and so keeping the pooled connections
    /// of) the previous client of a cluster whose timeouts did not change.
    pub(crate) fn build(snapshot: &Snapshot, previous: Option<(&Snapshot, &Upstreams)>) -> Self {
        let clusters = snapshot
            .clusters
            .iter()
            .map(|cluster| {
                let reused = previous.and_then(|(snap, ups)| {
                    let i = snap.clusters.iter().position(|c| c.name == cluster.name)?;
                    let old = ups.clusters.get(i)?;
                    (old.connect_timeout == cluster.connect_timeout
                        && old.idle_timeout == cluster.idle_timeout)
                        .then(|| old.client.clone())
                });
                ClusterUpstream {
                    client: reused.unwrap_or_else(|| new_client(cluster)),
                    authorities: authorities(cluster),
                    connect_timeout: cluster.connect_timeout,
                    idle_timeout: cluster.idle_timeout,
                }
            })
            .collect();
        Self { clusters }
    }
}

fn authorities(cluster: &Arc<Cluster>) -> Vec<Authority> {
    cluster
        .backends
        .iter()
        .filter_map(|b| Authority::try_from(b.address().to_string()).ok())
        .collect()
}

fn new_client(cluster: &Cluster) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(cluster.connect_timeout));
    connector.set_nodelay(true);
    connector.enforce_http(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(cluster.idle_timeout)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector)
}
