//! The per-request path: route, pick, forward, answer, count.

use std::sync::Arc;
use std::time::Instant;

use http::request::Parts;
use http::{Request, Response};
use hyper::body::Body as _;
use sluicegate_runtime::{Backend, Listener, Snapshot, TrustedProxies};
use sluicegate_upstream::{LiveCluster, Outgoing};

use crate::access::{AccessRecord, Outcome};
use crate::affinity::pick_key;
use crate::body::ProxyBody;
use crate::client_body::{self, ClientBody, FromClient};
use crate::conn::ClientConn;
use crate::forward::{Exchange, forward, is_idempotent};
use crate::grpc::is_grpc;
use crate::identity::{Identity, X_REQUEST_ID};
use crate::live::Live;
use crate::replay::{Prepared, RequestBody};
use crate::request_check::check_request;
use crate::status::ProxyError;
use crate::switching::Asked;
use crate::target::normalize_target;
use crate::upstream_head::upstream_head;

/// How far a request got: the cluster it was routed to, the backend picked last and
/// the number of backends tried.
#[derive(Clone, Copy, Debug, Default)]
struct Reached {
    cluster: Option<usize>,
    backend: Option<usize>,
    attempts: u32,
}

/// Serves one request that came on `conn`. Never fails: errors become
/// responses. Counts the response in the metrics of the backend, cluster or listener
/// it reached, returns the request id on it, and logs it when the access log is on.
/// A backend's `101` to an upgrade that is honoured leaves a tunnel on `conn`.
pub(crate) async fn handle(
    live: Arc<Live>,
    conn: &ClientConn,
    mut request: Request<FromClient>,
) -> Response<ProxyBody> {
    // First: until it is settled, the head guard reads nothing more from the client.
    let asked = Asked::take(conn, &mut request);
    let started = Instant::now();
    let listener = &*conn.listener;
    let at = live.snapshot.listener_index(listener);
    let identity = match at {
        Some((_, l)) => Identity::of(request.headers(), &conn.peer, &l.trusted_proxies),
        None => Identity::of(request.headers(), &conn.peer, &TrustedProxies::default()),
    };
    // Built only when the log is on, and boxed: inline it would take 336 bytes of
    // every request's future, log or no log.
    let log = live
        .snapshot
        .access_log
        .then(|| Box::new(AccessRecord::begin(listener, &request, &identity, started)));
    let grpc = is_grpc(request.headers());
    let limit = at.and_then(|(_, l)| l.max_request_body);
    let read = log.as_ref().map(|l| l.request_bytes());
    let request = request.map(|body| ClientBody::new(body, read, limit));
    let mut reached = Reached::default();
    let result = match at {
        Some((index, _)) => {
            let request = (request, asked);
            proxy(&live, index, conn, &identity, request, &mut reached).await
        }
        None => Err(ProxyError::NoRoute),
    };
    let upstream_status = result.as_ref().ok().map(|r| r.status().as_u16());
    let client_gone = matches!(result, Err(ProxyError::ClientClosed));
    let mut response = result.unwrap_or_else(|error| local_answer(error, at, &identity, grpc));
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), identity.request_id);
    let log = log.map(|mut log| {
        log.answered(Outcome {
            client_gone,
            ..outcome(&live.snapshot, reached, &response, upstream_status)
        });
        log
    });
    let Some((index, l)) = at else {
        return response.map(|body| body.logged(log));
    };
    let backend = backend_of(&live.snapshot, reached);
    count(
        l,
        index,
        backend,
        reached.cluster,
        response.status().as_u16(),
    );
    let histogram = l.series.duration(reached.cluster).get();
    response.map(|body| body.timed(histogram, started).logged(log))
}

/// The proxy's own answer to a request it could not forward, counted on its listener.
/// A gRPC request (`grpc`) gets it in gRPC form.
fn local_answer(
    error: ProxyError,
    at: Option<(usize, &Listener)>,
    identity: &Identity,
    grpc: bool,
) -> Response<ProxyBody> {
    tracing::debug!(client = %identity.client, kind = error.kind(), "{error}");
    if let Some((_, l)) = at {
        l.series.error(error.metric_kind());
    }
    if grpc {
        error.to_grpc_response()
    } else {
        error.to_response()
    }
}

/// The backend a request was last sent to.
fn backend_of(snapshot: &Snapshot, reached: Reached) -> Option<&Backend> {
    let cluster = snapshot.clusters.get(reached.cluster?)?;
    cluster.backends.get(reached.backend?)
}

/// What the access log records of a request's answer.
fn outcome(
    snapshot: &Snapshot,
    reached: Reached,
    response: &Response<ProxyBody>,
    upstream_status: Option<u16>,
) -> Outcome {
    Outcome {
        status: response.status().as_u16(),
        upstream_status,
        cluster: reached
            .cluster
            .and_then(|c| snapshot.clusters.get(c))
            .map(|c| c.name.to_string()),
        backend: backend_of(snapshot, reached).map(|b| b.address().to_string()),
        attempts: reached.attempts,
        client_gone: false,
    }
}

/// Counts a response with `status` in the series of the backend it came from, else
/// of the cluster or the listener it reached.
fn count(
    l: &Listener,
    index: usize,
    backend: Option<&Backend>,
    cluster: Option<usize>,
    status: u16,
) {
    let counters = match backend {
        Some(b) => b.series.requests(index),
        None => Some(l.series.requests(cluster)),
    };
    if let Some(counters) = counters {
        counters.count(status);
    }
}

/// Routes, picks and forwards one request; an `asked` upgrade goes with it, and is
/// settled with the answer.
async fn proxy(
    live: &Live,
    listener: usize,
    conn: &ClientConn,
    identity: &Identity,
    (request, asked): (Request<ClientBody>, Option<Asked>),
    reached: &mut Reached,
) -> Result<Response<ProxyBody>, ProxyError> {
    let (mut head, body) = request.into_parts();
    let (entry, index, target) = route(live, (listener, conn, identity), &mut head)?;
    if entry
        .max_request_body
        .is_some_and(|limit| body.size_hint().lower() > limit)
    {
        // Its Content-Length says so: refused before a byte of it is read.
        return Err(client_body::too_large());
    }
    let cluster = target.cluster;
    reached.cluster = Some(index);
    let no_backend = || ProxyError::NoBackend {
        cluster: cluster.name.to_string(),
    };
    let key = pick_key(cluster, &head, identity.client);
    let (slot, _) = cluster.pick(&key).ok_or_else(no_backend)?;
    let added = upstream_head(
        &mut head,
        conn,
        identity,
        asked.as_ref().map(|a| &a.protocols),
    );
    let retry = cluster.retry.as_ref();
    let resend = retry.is_some_and(|p| p.resends_sent()) && is_idempotent(&head.method);
    let limit = retry.filter(|_| resend).map(|p| p.buffer);
    let mut body = Prepared::of(body, limit).await?;
    let first = body.take().ok_or_else(no_backend)?;
    // A cluster that sends the PROXY protocol keeps each client's connections apart
    // (`upstream`'s pool): the request says whose it is.
    let mut request = Box::new(Outgoing::new(Request::from_parts(head, first), added));
    if cluster.send_proxy_protocol.is_some() {
        request.client = Some(Box::new((conn.addr, conn.local)));
    }
    let exchange = Exchange {
        target,
        key,
        request,
        body,
        resend,
        upgrade: asked.is_some(),
    };
    let mut response = forward(exchange, slot, |slot| {
        reached.backend = Some(slot);
        reached.attempts += 1;
    })
    .await?;
    if let Some(asked) = asked {
        asked.answered(&mut response, conn, entry);
    }
    Ok(response)
}

/// The listener's entry and the cluster `head` is routed to (its index, and with its
/// pools), after the request checks and the target's normalisation.
fn route<'a>(
    live: &'a Live,
    (listener, conn, identity): (usize, &ClientConn, &Identity),
    head: &mut Parts,
) -> Result<(&'a Listener, usize, LiveCluster<'a, RequestBody>), ProxyError> {
    check_request(head, &conn.scheme)?;
    let entry = live
        .snapshot
        .listeners
        .get(listener)
        .ok_or(ProxyError::NoRoute)?;
    normalize_target(&mut head.uri, entry.path_rules)?;
    let (route, index) = entry.routes.matched(head).ok_or(ProxyError::NoRoute)?;
    if let Some(limit) = entry.rate_limits.get(route).and_then(Option::as_ref) {
        crate::rate_limit::check(limit, head, identity)?;
    }
    let target = live.cluster(index).ok_or(ProxyError::NoRoute)?;
    Ok((entry, index, target))
}
