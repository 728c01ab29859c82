//! The immutable, compiled form of one config generation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sluicegate_core::{ListenerName, Protocol};
use sluicegate_metrics::{BackendGauges, ListenerSeries};
use sluicegate_routing::{PathRules, RouteTable};

use crate::{Cluster, L4Listener, ListenerTls, ProxyProtocolIn, RateLimit, TrustedProxies};

/// One listener's compiled routes.
#[derive(Debug)]
pub struct Listener {
    /// Its name.
    pub name: ListenerName,
    /// Configured bind address.
    pub address: SocketAddr,
    /// What it speaks.
    pub protocol: Protocol,
    /// How long an upgraded connection (a tunnel) may pass no byte either way
    /// before it is closed. Read when a tunnel opens: a reload changes it for the
    /// tunnels opened after it.
    pub tunnel_idle_timeout: Duration,
    /// Time a client connection may go without a new request. Like the three below,
    /// read when a connection is accepted.
    pub keepalive_timeout: Duration,
    /// HTTP/1: the deadline for one request head.
    pub header_read_timeout: Duration,
    /// HTTP/1: the longest wait for the next bytes of a request body.
    pub request_body_timeout: Duration,
    /// The longest a write to a client may wait for the client to take bytes.
    pub send_timeout: Duration,
    /// Client connections it may have open at once. Read at every accept.
    pub max_connections: u32,
    /// New connections a second per client address (`None`: any), with its buckets.
    /// Checked at every accept.
    pub connection_rate: Option<Arc<RateLimit>>,
    /// Largest request body, in bytes (`None`: any). Read per request.
    pub max_request_body: Option<u64>,
    /// Its route table, resolving to indices into [`Snapshot::clusters`].
    pub routes: RouteTable,
    /// Each route's rate limit, by route index (`None`: not limited).
    pub rate_limits: Vec<Option<Arc<RateLimit>>>,
    /// Its metric series.
    pub series: ListenerSeries,
    /// Peers whose forwarding headers and request id are believed.
    pub trusted_proxies: TrustedProxies,
    /// TLS termination; `None`: cleartext.
    pub tls: Option<Arc<ListenerTls>>,
    /// How request paths are normalised before routing.
    pub path_rules: PathRules,
    /// What a `tcp` or `tls_passthrough` listener forwards to; `None` for `http`.
    pub l4: Option<L4Listener>,
    /// PROXY protocol in; `None`: off.
    pub proxy_protocol: Option<ProxyProtocolIn>,
}

/// One config generation, compiled. Immutable: a reload builds a new one.
#[derive(Debug)]
pub struct Snapshot {
    /// Increases by one with every published snapshot.
    pub generation: u64,
    /// Listeners, sorted by name.
    pub listeners: Vec<Listener>,
    /// Clusters, sorted by name; routes refer to them by index.
    pub clusters: Vec<Arc<Cluster>>,
    /// Time in-flight requests get on shutdown.
    pub drain_timeout: Duration,
    /// Whether to log one line per request.
    pub access_log: bool,
    /// Client connections the process may have open at once (`None`: no cap beyond
    /// the listeners'). Read at every accept.
    pub max_connections: Option<u32>,
}

impl Snapshot {
    /// The listener with this name.
    pub fn listener(&self, name: &str) -> Option<&Listener> {
        self.listeners.iter().find(|l| l.name.as_str() == name)
    }

    /// The listener with this name and its index.
    pub fn listener_index(&self, name: &str) -> Option<(usize, &Listener)> {
        self.listeners
            .iter()
            .enumerate()
            .find(|(_, l)| l.name.as_str() == name)
    }

    /// The cluster with this name.
    pub fn cluster(&self, name: &str) -> Option<&Arc<Cluster>> {
        self.clusters.iter().find(|c| c.name.as_str() == name)
    }

    /// Renews every histogram handle of this config; call right after each scrape (see
    /// `sluicegate_metrics::HistogramCell`).
    pub fn renew_histograms(&self) {
        for listener in &self.listeners {
            listener.series.renew_histograms();
        }
        for backend in self.clusters.iter().flat_map(|c| c.backends.iter()) {
            backend.series.renew_histograms();
        }
    }

    /// Re-reads every listener's certificate files now (a reload that changes nothing
    /// else still picks up certificates renewed on disk, as nginx's SIGHUP does);
    /// pairs that changed and are valid are served to new handshakes, others keep
    /// the old pair. Returns how many pairs were swapped.
    pub fn refresh_certificates(&self) -> usize {
        let terminating = self.listeners.iter().filter_map(|l| l.tls.as_ref());
        terminating.map(|tls| tls.server.refresh()).sum()
    }

    /// Keeps every series of this config alive through the next scrape; series of
    /// removed objects, untouched, expire.
    pub fn touch_metrics(&self) {
        for listener in &self.listeners {
            listener.series.touch();
            if let Some(l4) = &listener.l4 {
                l4.series.touch();
            }
            if let Some(tls) = &listener.tls {
                tls.server.touch_metrics();
            }
        }
        for cluster in &self.clusters {
            cluster.retry_series.touch();
            if let Some(series) = &cluster.discovery_series {
                series.touch();
            }
            for backend in &cluster.backends {
                backend.touch_metrics();
            }
        }
    }

    /// Every backend's `up` and `in_flight` gauges, from the live state, for a scrape.
    pub fn backend_gauges(&self) -> BackendGauges {
        let mut gauges = BackendGauges::default();
        for cluster in &self.clusters {
            for backend in &cluster.backends {
                gauges.add(
                    cluster.name.as_str(),
                    &backend.address().to_string(),
                    backend.in_flight(),
                    backend.is_eligible(),
                );
            }
        }
        gauges
    }
}
