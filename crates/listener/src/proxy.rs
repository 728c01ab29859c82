//! The per-request path: route, pick, forward, answer, count.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response};
use hyper::body::Incoming;
use sluicegate_runtime::Snapshot;

use crate::ProxyBody;
use crate::affinity::pick_key;
use crate::attempts::{Exchange, forward, is_idempotent};
use crate::forward::{check_request, upstream_head};
use crate::replay::Prepared;
use crate::status::ProxyError;
use crate::upstream::Upstreams;

/// What one request reads: a snapshot and its matching upstream clients.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) upstreams: Upstreams,
}

/// How far a request got: the cluster it was routed to and the backend picked.
#[derive(Clone, Copy, Debug, Default)]
struct Reached {
    cluster: Option<usize>,
    backend: Option<usize>,
}

/// Serves one request on listener `listener`. Never fails: errors become responses.
/// Counts the response in the metrics of the backend, cluster or listener it reached.
pub(crate) async fn handle(
    live: Arc<Live>,
    listener: &str,
    client: SocketAddr,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    // What the access log needs is copied only when it is on: the hot path stays lean.
    let logged = live
        .snapshot
        .access_log
        .then(|| (request.method().clone(), request.uri().path().to_owned()));
    let at = live.snapshot.listener_index(listener);
    let mut reached = Reached::default();
    let result = match at {
        Some((index, _)) => proxy(&live, index, client, request, &mut reached).await,
        None => Err(ProxyError::NoRoute),
    };
    let snapshot = &live.snapshot;
    let cluster = reached.cluster.and_then(|c| snapshot.clusters.get(c));
    let backend = cluster
        .zip(reached.backend)
        .and_then(|(c, b)| c.backends.get(b));
    let response = match result {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(%client, kind = error.kind(), "{error}");
            if let Some((_, l)) = at {
                l.series.error(error.metric_kind());
            }
            error.to_response()
        }
    };
    let status = response.status().as_u16();
    let response = match at {
        Some((index, l)) => {
            let counters = match backend {
                Some(b) => b.series.requests(index),
                None => Some(l.series.requests(reached.cluster)),
            };
            if let Some(counters) = counters {
                counters.count(status);
            }
            response.map(|body| body.timed(l.series.duration(reached.cluster).get(), started))
        }
        None => response,
    };
    if let Some((method, path)) = logged {
        let name = cluster.map_or("-", |c| c.name.as_str());
        let address = backend.map_or_else(|| "-".to_owned(), |b| b.address().to_string());
        tracing::info!(
            target: "access",
            %client, listener, %method, path, status,
            cluster = name, backend = address,
            head_ms = %format_args!("{:.3}", started.elapsed().as_secs_f64() * 1000.0),
        );
    }
    response
}

async fn proxy(
    live: &Live,
    listener: usize,
    client: SocketAddr,
    request: Request<Incoming>,
    reached: &mut Reached,
) -> Result<Response<ProxyBody>, ProxyError> {
    let (mut head, body) = request.into_parts();
    check_request(&head)?;
    let snapshot = &live.snapshot;
    let routes = &snapshot
        .listeners
        .get(listener)
        .ok_or(ProxyError::NoRoute)?
        .routes;
    let index = routes.route(&head).ok_or(ProxyError::NoRoute)?;
    let (Some(cluster), Some(upstream)) = (
        snapshot.clusters.get(index),
        live.upstreams.clusters.get(index),
    ) else {
        return Err(ProxyError::NoRoute);
    };
    reached.cluster = Some(index);
    let no_backend = || ProxyError::NoBackend {
        cluster: cluster.name.to_string(),
    };
    let key = pick_key(cluster, &head, client.ip());
    let (slot, _) = cluster.pick(&key).ok_or_else(no_backend)?;
    let host = &upstream.backends.get(slot).ok_or_else(no_backend)?.host;
    upstream_head(&mut head, host, client);
    let retry = cluster.health.retry.as_ref();
    let resend = retry.is_some_and(|p| p.resends_sent()) && is_idempotent(&head.method);
    let limit = retry.filter(|_| resend).map(|p| p.buffer);
    let body = Prepared::of(body, limit).await?;
    let exchange = Exchange {
        cluster,
        upstream,
        key,
        head,
        body,
        resend,
    };
    forward(exchange, slot, |slot| reached.backend = Some(slot)).await
}
