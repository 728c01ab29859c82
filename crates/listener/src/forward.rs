//! Sending one request to one backend and classifying what went wrong.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;

use http::request::Parts;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{HeaderValue, Method, Request, Response, Uri, Version, header};
use hyper::body::Incoming;
use sluicegate_runtime::{Backend, Cluster};

use crate::headers::{add_forwarded, remove_hop_by_hop};
use crate::status::ProxyError;
use crate::upstream::ClusterUpstream;

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
    Ok(())
}

/// Turns the client's request head into the upstream one: target rewritten to the
/// backend, hop-by-hop fields removed, `X-Forwarded-*` added, `Host` kept.
pub(crate) fn upstream_head(head: &mut Parts, authority: &Authority, client: SocketAddr) {
    if let Some(target) = head.uri.authority() {
        // Absolute-form target: its authority replaces Host (RFC 9112 §3.2.2).
        if let Ok(host) = HeaderValue::from_str(target.as_str()) {
            head.headers.insert(header::HOST, host);
        }
    }
    let path = head
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(authority.clone());
    parts.path_and_query = Some(path);
    if let Ok(uri) = Uri::from_parts(parts) {
        head.uri = uri;
    }
    head.version = Version::HTTP_11;
    remove_hop_by_hop(&mut head.headers);
    add_forwarded(&mut head.headers, client.ip(), "http");
}

/// Sends the request to `backend` and waits, bounded by the cluster's response
/// timeout, for the response head.
pub(crate) async fn send(
    upstream: &ClusterUpstream,
    cluster: &Cluster,
    backend: &Backend,
    request: Request<Incoming>,
) -> Result<Response<Incoming>, ProxyError> {
    let name = || cluster.name.to_string();
    let sent = tokio::time::timeout(cluster.response_timeout, upstream.client.request(request));
    match sent.await {
        Err(_) => {
            tracing::warn!(backend = %backend.key, "backend did not answer within {:?}", cluster.response_timeout);
            Err(ProxyError::ResponseTimeout { cluster: name() })
        }
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) => {
            let classified = classify(&error, name());
            tracing::warn!(backend = %backend.key, kind = classified.kind(), "upstream request failed: {}", chain(&error));
            Err(classified)
        }
    }
}

fn classify(error: &hyper_util::client::legacy::Error, cluster: String) -> ProxyError {
    let io_kind = sources(error).find_map(|e| e.downcast_ref::<io::Error>().map(io::Error::kind));
    if error.is_connect() {
        return match io_kind {
            Some(io::ErrorKind::TimedOut) => ProxyError::ConnectTimeout { cluster },
            Some(kind) => ProxyError::ConnectFailed {
                cluster,
                reason: reason(kind),
            },
            None => ProxyError::ConnectFailed {
                cluster,
                reason: "connect error".into(),
            },
        };
    }
    ProxyError::BadResponse { cluster }
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
