//! Forwarding a request to its cluster, with retries: the first attempt, then, while the cluster's retry policy
//! and budget allow and it is safe, another backend.
//!
//! Safe means: nothing was sent (connect failure: any method), or the method is
//! idempotent and its body was held whole (≤ 64 KiB). A response is only retried
//! before any of it went to the client, which is always the case here: the head is
//! still in hand. An upgrade request is never sent twice: it goes on a new
//! connection (the upgrade takes it for good), and only a connect failure sends it to
//! another backend.

use std::time::Duration;

use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use sluicegate_core::{AfterSend, FailedAt, PickKey};
use sluicegate_runtime::{
    Backend, BetweenAttempts, Cluster, InFlightGuard, RetryGuard, RetryPolicy,
};
use sluicegate_upstream::{
    AddedFields, BackendUpstream, ClientKey, Lease, LiveCluster, Outgoing, UpstreamBody,
};

use crate::body::ProxyBody;
use crate::failure::Failure;
use crate::replay::{Prepared, RequestBody};
use crate::send::send;
use crate::status::ProxyError;
use crate::tunnel::BackendSide;
use crate::upstream_head::downstream_head;

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
    /// The fields the proxy added, beside the map (`forwarded.rs`).
    added: AddedFields,
    /// Its client, for a cluster that sends the PROXY protocol.
    client: Option<ClientKey>,
}

impl HeadCopy {
    fn of(outgoing: &Outgoing<RequestBody>) -> Self {
        let request = &outgoing.request;
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
            added: outgoing.added.clone(),
            client: outgoing.client.as_deref().copied(),
        }
    }

    fn request(&self, body: RequestBody) -> Box<Outgoing<RequestBody>> {
        let mut request = Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers.clone();
        let mut outgoing = Box::new(Outgoing::new(request, self.added.clone()));
        outgoing.client = self.client.map(Box::new);
        outgoing
    }
}

/// One request on its way to a cluster.
pub(crate) struct Exchange<'a> {
    /// The cluster routed to, with its pools.
    pub(crate) target: LiveCluster<'a, RequestBody>,
    pub(crate) key: PickKey,
    /// The request with its first body, boxed once here: every layer below keeps
    /// what it is given in its future, and a request inline is 352 bytes.
    pub(crate) request: Box<Outgoing<RequestBody>>,
    /// What further bodies come from, for a resend (its first was taken).
    pub(crate) body: Prepared,
    /// Whether the request may be sent again after it was sent (the policy resends
    /// sent requests and the method is idempotent); decided once, in `proxy`.
    pub(crate) resend: bool,
    /// Whether it asks for an upgrade that is honoured: then it is never sent twice.
    pub(crate) upgrade: bool,
}

/// A backend's answer with what its body holds until it ends: the attempt's in-flight
/// guard, its retry budget slot (a retry's), its connection lease.
type Answered = (
    Response<UpstreamBody>,
    (InFlightGuard, Option<RetryGuard>),
    Lease<RequestBody>,
);

/// How one attempt ended, when it is not the answer sent to the client yet.
struct Failed {
    /// What the client gets if nothing else is tried.
    outcome: Result<Answered, ProxyError>,
    /// Where it failed (a retried status: after sending).
    at: FailedAt,
    /// The request, when none of it was sent.
    unsent: Option<Box<Outgoing<RequestBody>>>,
    /// Keeps a failed request counted in the cluster's in-flight total until its next
    /// attempt starts (a retried status keeps its response, and with it its count,
    /// until then).
    waiting: Option<BetweenAttempts>,
    /// A reused connection closed under the request before any answer.
    stale: bool,
    /// The request, sent and handed back whole (see `Failure::given_back`).
    given_back: Option<Box<Outgoing<RequestBody>>>,
}

/// The next attempt: the request to send to backend `slot`, on a new connection when
/// `fresh`, holding a retry budget slot when it is a resend.
struct Try {
    slot: usize,
    request: Box<Outgoing<RequestBody>>,
    fresh: bool,
    budget: Option<RetryGuard>,
}

/// What `forward` keeps from one attempt to the next.
struct Tries<'a> {
    cluster: &'a Cluster,
    key: PickKey,
    /// The head to send again, when the request may be resent (its body held whole)
    /// and the client carrying it would not hand it back. Boxed: rarely made.
    copy: Option<Box<HeadCopy>>,
    /// Whether the request may be sent twice at all (idempotent or under a resending
    /// policy, not an upgrade, its body held whole).
    may_resend: bool,
    body: Prepared,
    /// Backends tried, in order.
    tried: Vec<usize>,
    /// Resends of a sent request so far, within the policy's attempts.
    resends: u32,
    /// Whether every attempt takes a new connection (an upgrade's).
    fresh: bool,
}

/// Sends the request to backend `slot`, then tries again as the policy allows. `on_pick`
/// learns each backend tried (the last one is the request's backend).
///
/// A request that was never sent (connect refused or timed out, handshake failed) goes
/// to the next untried backend at once: no backoff, no budget, for any method, unless
/// `retries.on` leaves out `connect_failure` (nginx's `proxy_next_upstream error`).
/// A request that was sent is sent again only within `retries`: its attempts, its
/// conditions, its budget (a slot held from the resend to the end of its response
/// body) and its backoff, during which it still counts as in flight.
pub(crate) async fn forward(
    exchange: Exchange<'_>,
    slot: usize,
    mut on_pick: impl FnMut(usize),
) -> Result<Response<ProxyBody>, ProxyError> {
    let Exchange {
        target,
        key,
        request,
        body,
        resend,
        upgrade,
    } = exchange;
    let cluster = target.cluster;
    let resendable = !upgrade && (resend || is_idempotent(request.request.method()));
    let replayable = body.is_replayable();
    // Kept for a resend within the policy, or once on a fresh connection after an
    // idle close (any idempotent request, with or without a policy), unless the
    // client that carries it hands it back after an idle close: cloning the head
    // (its header map, its target) cost ~1,400 instructions a request under
    // callgrind, for a resend that almost never happens.
    let gives_back = || {
        target
            .backend(slot)
            .is_some_and(|(_, up)| up.pool.gives_back(&request.request))
    };
    let may_resend = resendable && replayable;
    let copy = (may_resend && (resend || !gives_back())).then(|| Box::new(HeadCopy::of(&request)));
    let mut tries = Tries {
        cluster,
        key,
        copy,
        may_resend,
        body,
        tried: Vec::new(),
        resends: 0,
        fresh: upgrade,
    };
    let mut next = Try {
        slot,
        request,
        fresh: upgrade,
        budget: None,
    };
    // Keeps a failed request counted in the cluster's total until its next attempt.
    let mut waiting: Option<BetweenAttempts> = None;
    loop {
        on_pick(next.slot);
        let Some((backend, up)) = target.backend(next.slot) else {
            return Err(no_backend(cluster));
        };
        let held = (next.budget.take(), waiting.take());
        let attempted = attempt(cluster, backend, up, (next.request, next.fresh), held);
        let mut failed = match attempted.await? {
            Ok(answered) => return Ok(answer(answered)),
            Err(failed) => failed,
        };
        waiting = failed.waiting.take();
        // Boxed: only a failed attempt gets here, and inline its future (a resend's
        // backoff timer among it) would take ~1 KiB of every request's future.
        let after = Box::pin(tries.after(*failed, (next.slot, next.fresh), backend));
        next = match after.await {
            Ok(next) => next,
            Err(outcome) => return outcome.map(answer),
        };
    }
}

fn no_backend(cluster: &Cluster) -> ProxyError {
    ProxyError::NoBackend {
        cluster: cluster.name.to_string(),
    }
}

impl Tries<'_> {
    /// What follows `failed` on backend `slot` (tried on a fresh connection when
    /// `fresh`): the next attempt, or the client's answer when nothing else is tried.
    async fn after(
        &mut self,
        failed: Failed,
        (slot, fresh): (usize, bool),
        backend: &Backend,
    ) -> Result<Try, Result<Answered, ProxyError>> {
        let Failed {
            outcome,
            at,
            unsent,
            stale,
            given_back,
            ..
        } = failed;
        // An idle close met by a reused connection: once, on a fresh connection to the
        // same backend, as nginx and HAProxy do. Not a retry: no budget, no pause.
        // A request handed back goes again on the same terms as one copied.
        if stale
            && !fresh
            && self.may_resend
            && let Some(request) = given_back.or_else(|| self.again())
        {
            backend.series.stale_retry();
            return Ok(Try {
                slot,
                request,
                fresh: true,
                budget: None,
            });
        }
        self.tried.push(slot);
        match unsent {
            Some(unsent) => self.elsewhere(unsent, at).ok_or(outcome),
            None => self.resend(at, outcome).await,
        }
    }

    /// A copy of the request to send again, if it may be.
    fn again(&mut self) -> Option<Box<Outgoing<RequestBody>>> {
        let copy = self.copy.as_ref()?;
        Some(copy.request(self.body.take()?))
    }

    /// A request that was never sent, to the next untried backend: it loads no
    /// backend, so it needs neither budget nor pause.
    fn elsewhere(&self, unsent: Box<Outgoing<RequestBody>>, at: FailedAt) -> Option<Try> {
        let cluster = self.cluster;
        let policy = cluster.retry.as_ref();
        let next = (at.resend_safe(false) && policy.is_none_or(|p| p.retries(at)))
            .then(|| cluster.pick_untried(&self.key, &self.tried))
            .flatten();
        let (slot, _) = next?;
        cluster.retried(at);
        Some(Try {
            slot,
            request: unsent,
            fresh: self.fresh,
            budget: None,
        })
    }

    /// A request that was sent, once more if the policy, the budget and the body allow,
    /// after the backoff; `outcome` is the client's answer otherwise.
    async fn resend(
        &mut self,
        at: FailedAt,
        outcome: Result<Answered, ProxyError>,
    ) -> Result<Try, Result<Answered, ProxyError>> {
        let cluster = self.cluster;
        let resends = self.resends;
        // Whether the request may be sent twice at all (idempotent or under a
        // resending policy, body held whole); under such a policy a copy is kept.
        if !at.resend_safe(self.may_resend) {
            return Err(outcome);
        }
        let policy = cluster.retry.as_ref();
        let Some(policy) = policy.filter(|p| resends < p.attempts && p.retries(at)) else {
            return Err(outcome);
        };
        let Some(request) = self.again() else {
            return Err(outcome);
        };
        // Refused now: answer at once rather than after the pause.
        if cluster.try_retry().is_none() {
            tracing::debug!(cluster = %cluster.name, "retry budget spent: not retrying");
            return Err(outcome);
        }
        self.resends += 1;
        tokio::time::sleep(backoff(policy, self.resends as usize)).await;
        // Picked after the pause, so a backend taken out meanwhile is avoided.
        let (Some(taken), Some((slot, _))) = (
            cluster.try_retry(),
            cluster.pick_avoiding(&self.key, &self.tried),
        ) else {
            return Err(outcome);
        };
        drop(outcome);
        cluster.retried(at);
        Ok(Try {
            slot,
            request,
            fresh: false,
            budget: Some(taken),
        })
    }
}

/// One attempt on `backend`: `Ok(Ok(answer))` is final, `Ok(Err(failed))` may be
/// tried elsewhere (a failure, or a status the policy retries), `Err` ends the request
/// at once (the client's upload failed). Counts the outcome for the outlier detector
/// and marks a backend that refused or did not answer as unreachable. `Failed` is
/// boxed (it is rare, and inline it would more than double the size of the result
/// every answer is moved in).
async fn attempt(
    cluster: &Cluster,
    backend: &Backend,
    up: &BackendUpstream<RequestBody>,
    (request, fresh): (Box<Outgoing<RequestBody>>, bool),
    (budget_slot, waiting): (Option<RetryGuard>, Option<BetweenAttempts>),
) -> Result<Result<Answered, Box<Failed>>, ProxyError> {
    let guard = backend.start_request();
    drop(waiting);
    match send(up, cluster, backend, request, fresh).await {
        Ok((response, lease)) => {
            let status = response.status();
            cluster.record_outcome(backend, status.is_server_error());
            let policy = cluster.retry.as_ref();
            if !policy.is_some_and(|p| p.retries_status(status.as_u16())) {
                return Ok(Ok((response, (guard, budget_slot), lease)));
            }
            // A status to retry: this retry is over, its slot goes back now.
            drop(budget_slot);
            Ok(Err(Box::new(Failed {
                outcome: Ok((response, (guard, None), lease)),
                at: FailedAt::AfterSend(AfterSend::Status),
                unsent: None,
                waiting: None,
                stale: false,
                given_back: None,
            })))
        }
        Err(Failure {
            at: FailedAt::Downstream,
            error,
            ..
        }) => Err(error),
        Err(Failure {
            error,
            at,
            unsent,
            stale,
            given_back,
        }) => {
            // The attempt is over: it no longer counts against this backend, but the
            // request still counts in the cluster's total (the budget's base).
            let waiting = cluster.between_attempts();
            drop((guard, budget_slot));
            // An idle close is the connection's end, an internal failure (out of
            // descriptors) the proxy's and a full queue the load's: not the backend
            // failing.
            let saturated = matches!(error, ProxyError::Saturated { .. });
            if !stale && at != FailedAt::Internal && !saturated {
                cluster.record_outcome(backend, true);
            }
            if at.unreachable() && !saturated {
                cluster.record_unreachable(backend, &error.to_string());
            }
            Ok(Err(Box::new(Failed {
                outcome: Err(error),
                at,
                unsent,
                waiting: Some(waiting),
                stale,
                given_back,
            })))
        }
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

fn answer((mut response, guards, lease): Answered) -> Response<ProxyBody> {
    downstream_head(&mut response);
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        // `send` lets through only the 101 of an upgrade that was asked for. Its
        // connection is the tunnel's now: the lease is dropped, never released.
        drop(lease);
        let upgrade = hyper::upgrade::on(&mut response);
        return response.map(|_| ProxyBody::switched(BackendSide { upgrade, guards }));
    }
    response.map(|body| ProxyBody::upstream(body, guards, lease))
}
