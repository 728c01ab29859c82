//! Sending one request to one backend, bounded by the cluster's response timeout,
//! and turning what went wrong into a [`Failure`]: where it failed (as the upstream
//! pool classified it, or a timeout here), the error the client would get, and the
//! request when it can still go elsewhere.

use std::io;
use tokio::time::Instant;

use http::{Response, StatusCode, header};
use sluicegate_core::{AfterSend, FailedAt};
use sluicegate_runtime::{Backend, Cluster};
use sluicegate_upstream::{BackendUpstream, Lease, Outgoing, SendError, SendFailure, UpstreamBody};

use crate::client_body;
use crate::failure::Failure;
use crate::replay::RequestBody;
use crate::status::ProxyError;
use crate::upgrade::accepts;

/// Sends the request to `backend` (on a new connection when `fresh`) and waits,
/// bounded by the cluster's response timeout, for the response head; the body's
/// waits for bytes are then bounded by its response body timeout. A `101` is
/// accepted only as the answer to an upgrade the request asked for (it carries
/// `Upgrade`, kept only for an upgrade that is honoured) and only when it switches to
/// a protocol that was offered; any other `101` is a backend speaking another protocol
/// on this connection: a 502, the connection closed.
pub(crate) async fn send(
    upstream: &BackendUpstream<RequestBody>,
    cluster: &Cluster,
    backend: &Backend,
    request: Box<Outgoing<RequestBody>>,
    fresh: bool,
) -> Result<(Response<UpstreamBody>, Lease<RequestBody>), Failure> {
    let name = || cluster.name.to_string();
    // Only an upgrade goes on a fresh connection the first time: no other request
    // has an `Upgrade` left to look up (`upstream_head.rs` removes it).
    let offered = fresh
        .then(|| request.request.headers().get(header::UPGRADE).cloned())
        .flatten();
    let started = Instant::now();
    let deadline = started + cluster.response_timeout;
    match upstream.pool.send(request, fresh, deadline).await {
        Err(SendFailure {
            error: SendError::TimedOut,
            ..
        }) => {
            tracing::warn!(backend = %backend.key, "backend did not answer within {:?}", cluster.response_timeout);
            Err(Failure::sent(
                ProxyError::ResponseTimeout { cluster: name() },
                AfterSend::Timeout,
            ))
        }
        Ok((response, _))
            if response.status() == StatusCode::SWITCHING_PROTOCOLS
                && !offered
                    .as_ref()
                    .is_some_and(|offered| accepts(offered, response.headers())) =>
        {
            tracing::warn!(backend = %backend.key, "backend switched protocols unasked: 502");
            Err(Failure::sent(
                ProxyError::BadResponse { cluster: name() },
                AfterSend::Reset,
            ))
        }
        Ok((response, lease)) => {
            backend.series.response_seconds().record(started.elapsed());
            let response = response.map(|body| body.bound(cluster.response_body_timeout));
            Ok((response, lease))
        }
        Err(SendFailure {
            error: SendError::Exchange(error),
            ..
        }) if error.is_user() => {
            let answer = client_body::failed(&error);
            tracing::debug!(backend = %backend.key, "request body from the client failed: {}", SendError::Exchange(error));
            Err(Failure::downstream(answer))
        }
        Err(failure) => Err(failed(failure, backend, name())),
    }
}

/// The failure of an exchange that did not get a response head: counted (a connect
/// error) and logged (an idle close only at debug level: it is resent).
fn failed(
    failure: SendFailure<Outgoing<RequestBody>>,
    backend: &Backend,
    cluster: String,
) -> Failure {
    let error = &failure.error;
    if let SendError::QueueFull | SendError::QueueTimeout(_) = error {
        return saturated(failure, backend, cluster);
    }
    if let SendError::Connect(io) = error
        && out_of_resources(io)
    {
        // This process's shortage, not the backend's: not counted against it, not
        // retried (another backend would fail the same way).
        tracing::warn!(backend = %backend.key, "cannot open a backend connection: {io}");
        return Failure {
            error: ProxyError::Overloaded("the proxy is out of file descriptors or memory"),
            at: FailedAt::Internal,
            unsent: failure.unsent,
            stale: false,
            given_back: None,
        };
    }
    if let Some(reason) = error.connect_reason() {
        backend.series.connect_error(reason);
    }
    let classified = classify(error, cluster);
    let stale = failure.is_stale();
    if stale {
        tracing::debug!(backend = %backend.key, "reused connection closed under a request: {error}");
    } else {
        tracing::warn!(backend = %backend.key, kind = classified.kind(), "upstream request failed: {error}");
    }
    let at = failure.failed_at();
    Failure {
        error: classified,
        at,
        unsent: failure.unsent,
        stale,
        given_back: failure.given_back,
    }
}

/// A request the backend had no room for: counted, unsent, so it may go to another
/// backend; not the backend failing (`forward.rs` does not hold it against it).
fn saturated(
    failure: SendFailure<Outgoing<RequestBody>>,
    backend: &Backend,
    cluster: String,
) -> Failure {
    let full = matches!(failure.error, SendError::QueueFull);
    backend.series.queue_overflow(full);
    tracing::debug!(backend = %backend.key, "no room: {}", failure.error);
    let why = if full { "queue full" } else { "queue timeout" };
    Failure {
        error: ProxyError::Saturated { cluster, why },
        at: FailedAt::BeforeSend,
        unsent: failure.unsent,
        stale: false,
        given_back: None,
    }
}

/// Whether a connect failed for want of a local resource: descriptors (`EMFILE`,
/// `ENFILE`), buffers (`ENOBUFS`) or memory (`ENOMEM`).
fn out_of_resources(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
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
        // The handshake's own words: which check failed, never an address.
        SendError::Tls(io) => ProxyError::ConnectFailed {
            cluster,
            reason: format!("TLS: {io}"),
        },
        SendError::Exchange(_)
        | SendError::Direct(_)
        | SendError::Invalid(_)
        | SendError::Stale(_) => ProxyError::BadResponse { cluster },
        SendError::QueueFull => ProxyError::Saturated {
            cluster,
            why: "queue full",
        },
        SendError::QueueTimeout(_) => ProxyError::Saturated {
            cluster,
            why: "queue timeout",
        },
        SendError::TimedOut => ProxyError::ResponseTimeout { cluster },
    }
}

fn reason(kind: io::ErrorKind) -> String {
    match kind {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::ConnectionReset => "connection reset".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_shortage_is_told_from_a_backend_failure() {
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(out_of_resources(&io::Error::from_raw_os_error(errno)));
        }
        for errno in [libc::ECONNREFUSED, libc::ECONNRESET, libc::ETIMEDOUT] {
            assert!(!out_of_resources(&io::Error::from_raw_os_error(errno)));
        }
        assert!(!out_of_resources(&io::Error::other("no errno")));
    }
}
