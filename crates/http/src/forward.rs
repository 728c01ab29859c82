//! Sending one request to one backend and classifying what went wrong.

use std::error::Error as StdError;
use std::io;
use std::time::Instant;

use http::request::Parts;
use http::uri::{PathAndQuery, Scheme};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Uri, Version, header};
use hyper::body::Incoming;
use sluicegate_metrics::{ConnectReason, RetryReason};
use sluicegate_runtime::{Backend, Cluster};
use sluicegate_upstream::{BackendUpstream, Lease, SendError};

use crate::headers::{remove_hop_by_hop, set_forwarded};
use crate::identity::Identity;
use crate::replay::RequestBody;
use crate::status::ProxyError;
use crate::via::{MAX_OWN_HOPS, add_via, own_hops};

/// Checks what must hold before a request is routed (RFC 9112 §3.2).
pub(crate) fn check_request(head: &Parts) -> Result<(), ProxyError> {
    if head.method == Method::CONNECT {
        return Err(ProxyError::MethodNotAllowed(head.method.to_string()));
    }
    let hosts = head.headers.get_all(header::HOST).iter().count();
    if hosts > 1 {
        return Err(ProxyError::BadRequest("more than one Host header"));
    }
    if hosts == 0 && head.version == Version::HTTP_11 && head.uri.authority().is_none() {
        return Err(ProxyError::BadRequest("missing Host header"));
    }
    check_absolute_form(head)?;
    check_codings(head)?;
    match own_hops(&head.headers) {
        hops if hops > MAX_OWN_HOPS => Err(ProxyError::LoopDetected(hops)),
        _ => Ok(()),
    }
}

/// An absolute-form target's authority becomes `Host` (RFC 9112 §3.2.2), so it must
/// be one: no userinfo, and only the `http` scheme.
fn check_absolute_form(head: &Parts) -> Result<(), ProxyError> {
    if let Some(scheme) = head.uri.scheme()
        && *scheme != Scheme::HTTP
    {
        return Err(ProxyError::BadRequest(
            "the request target's scheme is not http",
        ));
    }
    if head
        .uri
        .authority()
        .is_some_and(|a| a.as_str().contains('@'))
    {
        return Err(ProxyError::BadRequest("userinfo in the request target"));
    }
    Ok(())
}

/// hyper decodes `chunked` and the body goes upstream re-framed: any other coding
/// (`gzip, chunked`) would be lost on the way, so it is refused (as nginx does).
fn check_codings(head: &Parts) -> Result<(), ProxyError> {
    let other = head
        .headers
        .get_all(header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|coding| !coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
    if other {
        return Err(ProxyError::NotImplemented(
            "transfer coding other than chunked is not supported",
        ));
    }
    Ok(())
}

/// Turns the client's request head into the upstream one: target in origin form,
/// hop-by-hop fields removed, `X-Forwarded-*`, `X-Real-IP` and `X-Request-Id` set,
/// `Host` kept (or, from an HTTP/1.0 client that sent none, set to `default_host`:
/// the address the client connected to).
pub(crate) fn upstream_head(head: &mut Parts, default_host: &HeaderValue, identity: &Identity) {
    if let Some(target) = head.uri.authority() {
        // Absolute-form target: its authority replaces Host (RFC 9112 §3.2.2).
        if let Ok(host) = HeaderValue::from_str(target.as_str()) {
            head.headers.insert(header::HOST, host);
        }
    }
    if !head.headers.contains_key(header::HOST) {
        head.headers.insert(header::HOST, default_host.clone());
    }
    if head.uri.scheme().is_some() || head.uri.authority().is_some() {
        let path = head
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        head.uri = Uri::from(path);
    }
    head.version = Version::HTTP_11;
    canonical_content_length(&mut head.headers);
    remove_hop_by_hop(&mut head.headers);
    set_forwarded(&mut head.headers, identity, "http");
    add_via(&mut head.headers);
}

/// Writes `Content-Length` as the number hyper read, never the client's bytes: a
/// zero-padded `010` is 10 to hyper and 8 to a backend that reads octal, and the
/// connection would desynchronise. (hyper has already refused values that differ.)
fn canonical_content_length(headers: &mut HeaderMap) {
    let parsed = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match parsed {
        Some(length) => headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length)),
        None => headers.remove(header::CONTENT_LENGTH),
    };
}

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

/// Removes hop-by-hop fields from a backend's response head.
pub(crate) fn downstream_head(response: &mut Response<Incoming>) {
    remove_hop_by_hop(response.headers_mut());
}
