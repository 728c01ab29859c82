//! The per-request path: route, pick, forward, answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{Request, Response};
use hyper::body::Incoming;
use sluicegate_runtime::Snapshot;

use crate::ProxyBody;
use crate::affinity::pick_key;
use crate::forward::{check_request, downstream_head, send, upstream_head};
use crate::status::ProxyError;
use crate::upstream::Upstreams;

/// What one request reads: a snapshot and its matching upstream clients.
#[derive(Debug)]
pub(crate) struct Live {
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) upstreams: Upstreams,
}

/// Serves one request on listener `listener`. Never fails: errors become responses.
pub(crate) async fn handle(
    live: Arc<Live>,
    listener: &str,
    client: SocketAddr,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    // What the access log needs is copied only when it is on: the hot path stays lean.
    let logged = live.snapshot.access_log.then(|| {
        (
            Instant::now(),
            request.method().clone(),
            request.uri().path().to_owned(),
        )
    });
    let (response, target) = match proxy(&live, listener, client, request).await {
        Ok((response, target)) => (response, Some(target)),
        Err(error) => {
            tracing::debug!(%client, kind = error.kind(), "{error}");
            (error.to_response(), None)
        }
    };
    if let Some((started, method, path)) = logged {
        let (cluster, backend) = match target {
            Some((c, b)) => {
                let name = live.snapshot.clusters.get(c).map(|c| c.name.as_str());
                (name.unwrap_or("-"), b.to_string())
            }
            None => ("-", "-".into()),
        };
        tracing::info!(
            target: "access",
            %client, listener, %method, path, status = response.status().as_u16(),
            cluster, backend, head_ms = %format_args!("{:.3}", started.elapsed().as_secs_f64() * 1000.0),
        );
    }
    response
}

/// Cluster index and backend address, for the access log.
type Target = (usize, SocketAddr);

async fn proxy(
    live: &Live,
    listener: &str,
    client: SocketAddr,
    request: Request<Incoming>,
) -> Result<(Response<ProxyBody>, Target), ProxyError> {
    let (mut head, body) = request.into_parts();
    check_request(&head)?;
    let snapshot = &live.snapshot;
    let routes = &snapshot
        .listener(listener)
        .ok_or(ProxyError::NoRoute)?
        .routes;
    let index = routes.route(&head).ok_or(ProxyError::NoRoute)?;
    let (Some(cluster), Some(upstream)) = (
        snapshot.clusters.get(index),
        live.upstreams.clusters.get(index),
    ) else {
        return Err(ProxyError::NoRoute);
    };
    let no_backend = || ProxyError::NoBackend {
        cluster: cluster.name.to_string(),
    };
    let (slot, backend) = cluster
        .pick(&pick_key(cluster, &head, client.ip()))
        .ok_or_else(no_backend)?;
    let upstream = upstream.backends.get(slot).ok_or_else(no_backend)?;
    let guard = backend.start_request();
    upstream_head(&mut head, &upstream.host, client);
    let request = Request::from_parts(head, body);
    let (mut response, lease) = send(upstream, cluster, backend, request).await?;
    downstream_head(&mut response);
    let target = (index, backend.address());
    Ok((
        response.map(|body| ProxyBody::upstream(body, guard, lease)),
        target,
    ))
}
