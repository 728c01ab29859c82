//! Sending one request to one backend, bounded by the cluster's response timeout,
//! and classifying what went wrong: the status the client would get, the retry
//! reason, and whether the request can still go elsewhere.

use std::error::Error as StdError;
use std::io;
use std::time::Instant;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use sluicegate_metrics::{ConnectReason, RetryReason};
use sluicegate_runtime::{Backend, Cluster};
use sluicegate_upstream::{BackendUpstream, Lease, SendError};

use crate::replay::RequestBody;
use crate::status::ProxyError;

/// A failed attempt: what the client would get, what kind of failure it was, and the
/// request itself if none of it was sent (it may then go to another backend).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: ProxyError,
    pub(crate) reason: RetryReason,
    pub(crate) unsent: Option<Request<RequestBody>>,
    /// The client's request body failed (it went away mid-upload): not the backend's
    /// fault, so neither counted against it nor retried.
    pub(crate) client_fault: bool,
    /// A reused connection closed under the request before any answer (see
    /// [`SendError::Stale`]): not counted against the backend, and an idempotent
    /// request is sent once more on a fresh connection.
    pub(crate) stale: bool,
}

impl Failure {
    /// A failure of a request that was sent, through no fault of the client.
    fn sent(error: ProxyError, reason: RetryReason) -> Self {
        Failure {
            error,
            reason,
            unsent: None,
            client_fault: false,
            stale: false,
        }
    }
}

/// Sends the request to `backend` (on a new connection when `fresh`) and waits,
/// bounded by the cluster's response timeout, for the response head.
pub(crate) async fn send(
    upstream: &BackendUpstream<RequestBody>,
    cluster: &Cluster,
    backend: &Backend,
    request: Request<RequestBody>,
    fresh: bool,
) -> Result<(Response<Incoming>, Lease<RequestBody>), Failure> {
    let name = || cluster.name.to_string();
    let started = Instant::now();
    let sent = tokio::time::timeout(cluster.response_timeout, upstream.pool.send(request, fresh));
    match sent.await {
        Err(_) => {
            tracing::warn!(backend = %backend.key, "backend did not answer within {:?}", cluster.response_timeout);
            Err(Failure::sent(
                ProxyError::ResponseTimeout { cluster: name() },
                RetryReason::Timeout,
            ))
        }
        Ok(Ok((response, _))) if response.status() == StatusCode::SWITCHING_PROTOCOLS => {
            // No upgrade is ever asked for (`Upgrade` is removed), so a 101 is a
            // backend speaking another protocol on this connection: not forwarded.
            tracing::warn!(backend = %backend.key, "backend switched protocols unasked: 502");
            Err(Failure::sent(
                ProxyError::BadResponse { cluster: name() },
                RetryReason::Reset,
            ))
        }
        Ok(Ok(exchange)) => {
            backend.series.response_seconds().record(started.elapsed());
            Ok(exchange)
        }
        Ok(Err((SendError::Exchange(error), _))) if error.is_user() => {
            tracing::debug!(backend = %backend.key, "request body from the client failed: {}", chain(&error));
            let error =
                ProxyError::BadRequest("the request body could not be read from the client");
            Err(Failure {
                client_fault: true,
                ..Failure::sent(error, RetryReason::Reset)
            })
        }
        Ok(Err((error, unsent))) => Err(failed(&error, unsent, backend, name())),
    }
}

/// The failure of an exchange that did not get a response head: counted (a connect
/// error) and logged (an idle close only at debug level: it is resent).
fn failed(
    error: &SendError,
    unsent: Option<Request<RequestBody>>,
    backend: &Backend,
    cluster: String,
) -> Failure {
    if let Some(reason) = connect_reason(error) {
        backend.series.connect_error(reason);
    }
    let classified = classify(error, cluster);
    let stale = matches!(error, SendError::Stale(_));
    if stale {
        tracing::debug!(backend = %backend.key, "reused connection closed under a request: {}", describe(error));
    } else {
        tracing::warn!(backend = %backend.key, kind = classified.kind(), "upstream request failed: {}", describe(error));
    }
    let reason = match error {
        SendError::Exchange(_) | SendError::Stale(_) if unsent.is_none() => RetryReason::Reset,
        _ => RetryReason::ConnectFailure,
    };
    Failure {
        error: classified,
        reason,
        unsent,
        client_fault: false,
        stale,
    }
}

fn classify(error: &SendError, cluster: String) -> ProxyError {
    match error {
        SendError::ConnectTimeout => ProxyError::ConnectTimeout { cluster },
        SendError::Connect(io) if io.kind() == io::ErrorKind::TimedOut => {
            ProxyError::ConnectTimeout { cluster }
        }
        SendError::Connect(io) => ProxyError::ConnectFailed {
            cluster,
            reason: reason(io.kind()),
        },
        SendError::Exchange(_) | SendError::Stale(_) => ProxyError::BadResponse { cluster },
    }
}

/// The `reason` label of a failed connection attempt; `None` if it connected.
fn connect_reason(error: &SendError) -> Option<ConnectReason> {
    match error {
        SendError::ConnectTimeout => Some(ConnectReason::Timeout),
        SendError::Connect(io) => Some(match io.kind() {
            io::ErrorKind::ConnectionRefused => ConnectReason::Refused,
            io::ErrorKind::ConnectionReset => ConnectReason::Reset,
            io::ErrorKind::TimedOut => ConnectReason::Timeout,
            _ => ConnectReason::Other,
        }),
        SendError::Exchange(_) | SendError::Stale(_) => None,
    }
}

fn describe(error: &SendError) -> String {
    match error {
        SendError::ConnectTimeout => "connect timed out".into(),
        SendError::Connect(io) => format!("connect: {io}"),
        SendError::Exchange(e) | SendError::Stale(e) => chain(e),
    }
}

fn reason(kind: io::ErrorKind) -> String {
    match kind {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        other => other.to_string(),
    }
}

fn sources<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |e| (*e).source())
}

fn chain(error: &(dyn StdError + 'static)) -> String {
    sources(error)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}
