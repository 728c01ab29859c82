//! Forwarding with retries: the first attempt, then, while the cluster's retry policy
//! and budget allow and it is safe, another backend.
//!
//! Safe means: nothing was sent (connect failure: any method), or the method is
//! idempotent and its body was held whole (≤ 64 KiB). A response is only retried
//! before any of it went to the client, which is always the case here: the head is
//! still in hand.

use std::time::Duration;

use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, Uri, Version};
use hyper::body::Incoming;
use sluicegate_core::PickKey;
use sluicegate_runtime::{Cluster, InFlightGuard, RetryGuard, RetryPolicy};

use crate::ProxyBody;
use crate::forward::{Failure, downstream_head, send};
use crate::pool::Lease;
use crate::replay::{Prepared, RequestBody};
use crate::status::ProxyError;
use crate::upstream::ClusterUpstream;

/// Methods that may be sent twice (RFC 9110 §9.2.2), as nginx's `proxy_next_upstream`.
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// What a request needs to be sent again after it was sent once.
#[derive(Debug)]
struct HeadCopy {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
}

impl HeadCopy {
    fn of(head: &Parts) -> Self {
        Self {
            method: head.method.clone(),
            uri: head.uri.clone(),
            version: head.version,
            headers: head.headers.clone(),
        }
    }

    fn request(&self, body: RequestBody) -> Request<RequestBody> {
        let mut request = Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// One request on its way to a cluster.
pub(crate) struct Exchange<'a> {
    pub(crate) cluster: &'a Cluster,
    pub(crate) upstream: &'a ClusterUpstream,
    pub(crate) key: PickKey,
    pub(crate) head: Parts,
    pub(crate) body: Prepared,
    /// Whether the request may be sent again after it was sent (the policy resends
    /// sent requests and the method is idempotent); decided once, in `proxy`.
    pub(crate) resend: bool,
}

/// A backend's answer with what its body holds until it ends.
type Answered = (Response<Incoming>, InFlightGuard, Lease);

/// Sends the request to backend `slot`, then retries as the policy allows. `on_pick`
/// learns each backend tried (the last one is the request's backend).
pub(crate) async fn forward(
    exchange: Exchange<'_>,
    mut slot: usize,
    mut on_pick: impl FnMut(usize),
) -> Result<Response<ProxyBody>, ProxyError> {
    let Exchange {
        cluster,
        upstream,
        key,
        head,
        mut body,
        resend,
    } = exchange;
    let no_backend = || ProxyError::NoBackend {
        cluster: cluster.name.to_string(),
    };
    let policy = cluster.health.retry.as_ref();
    let copy = (resend && body.is_replayable()).then(|| HeadCopy::of(&head));
    let first = body.take().ok_or_else(no_backend)?;
    let mut request = Request::from_parts(head, first);
    let mut tried: Vec<usize> = Vec::new();
    let mut _retry: Option<RetryGuard> = None;
    loop {
        on_pick(slot);
        let (Some(backend), Some(up)) = (cluster.backends.get(slot), upstream.backends.get(slot))
        else {
            return Err(no_backend());
        };
        let guard = backend.start_request();
        let (outcome, reason, unsent) = match send(up, cluster, backend, request).await {
            Ok((response, lease)) => {
                let status = response.status().as_u16();
                cluster.record_outcome(backend, response.status().is_server_error());
                let retried = policy.is_some_and(|p| p.retries_status(status));
                let outcome = Ok((response, guard, lease));
                if !retried {
                    return outcome.map(answer);
                }
                (outcome, sluicegate_metrics::RetryReason::Status, None)
            }
            Err(Failure {
                client_fault,
                error,
                ..
            }) if client_fault => return Err(error),
            Err(Failure {
                error,
                reason,
                unsent,
                ..
            }) => {
                // The attempt is over: it no longer counts as in flight (least
                // connections, the retry budget) while the retry backs off.
                drop(guard);
                cluster.record_outcome(backend, true);
                (Err(error), reason, unsent)
            }
        };
        let Some(policy) =
            policy.filter(|p| tried.len() < p.attempts as usize && p.retries(reason))
        else {
            return outcome.map(answer);
        };
        let next = match unsent {
            Some(unsent) => unsent,
            None => match (copy.as_ref(), body.take()) {
                (Some(copy), Some(body)) => copy.request(body),
                _ => return outcome.map(answer),
            },
        };
        // A finished retry gives its slot back before the next one asks for a slot.
        _retry = None;
        let Some(guard) = cluster.try_retry() else {
            tracing::debug!(cluster = %cluster.name, "retry budget spent: not retrying");
            return outcome.map(answer);
        };
        tried.push(slot);
        let Some((next_slot, _)) = cluster.pick_avoiding(&key, &tried) else {
            return outcome.map(answer);
        };
        drop(outcome);
        cluster.retry_series.retried(reason);
        tokio::time::sleep(backoff(policy, tried.len())).await;
        slot = next_slot;
        request = next;
        _retry = Some(guard);
    }
}

/// Exponential backoff from `policy.backoff`, with jitter (50–100%), for retry `n`.
fn backoff(policy: &RetryPolicy, n: usize) -> Duration {
    let exponent = u32::try_from(n.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(6);
    let full = policy.backoff.saturating_mul(1 << exponent);
    full.mul_f64(0.5 + fastrand::f64() / 2.0)
}

fn answer((mut response, guard, lease): Answered) -> Response<ProxyBody> {
    downstream_head(&mut response);
    response.map(|body| ProxyBody::upstream(body, guard, lease))
}
