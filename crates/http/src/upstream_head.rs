//! Rewriting heads on their way through: the client's request head into the one the
//! backend gets, and the backend's response head into the one the client gets.

use http::request::Parts;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Response, StatusCode, Uri, Version, header};
use sluicegate_upstream::{AddedFields, UpstreamBody, short_head};

use crate::conn::ClientConn;
use crate::forwarded::forwarded_fields;
use crate::grpc;
use crate::headers::remove_hop_by_hop;
use crate::identity::Identity;
use crate::upgrade::restore;

/// Turns the client's request head into the upstream one: target in origin form,
/// hop-by-hop fields removed, `X-Forwarded-*` (the proto from the connection's
/// scheme), `X-Real-IP` and `X-Request-Id` set, `Host` kept (or, from an HTTP/1.0
/// client that sent none, set to the address the client connected to). An HTTP/2
/// request's `:authority` becomes `Host`. An upgrade that is honoured keeps
/// `Connection: upgrade`, and `Upgrade` becomes `upgrade`: the protocols offered.
/// The fields the proxy adds are returned, to go beside the map.
pub(crate) fn upstream_head(
    head: &mut Parts,
    conn: &ClientConn,
    identity: &Identity,
    upgrade: Option<&HeaderValue>,
) -> AddedFields {
    if let Some(target) = head.uri.authority() {
        // Absolute-form target: its authority replaces Host (RFC 9112 §3.2.2).
        if let Ok(host) = HeaderValue::from_str(target.as_str()) {
            head.headers.insert(header::HOST, host);
        }
    }
    if !short_head::contains(&head.headers, &header::HOST) {
        head.headers.insert(header::HOST, conn.host.clone());
    }
    if head.uri.scheme().is_some() || head.uri.authority().is_some() {
        let path = head
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        head.uri = Uri::from(path);
    }
    if head.version == Version::HTTP_2 {
        join_cookies(&mut head.headers);
    }
    head.version = Version::HTTP_11;
    canonical_content_length(&mut head.headers);
    // `TE` first: absent from nearly every request, so `is_grpc` rarely runs twice.
    let te_trailers = grpc::wants_trailers(&head.headers) && grpc::is_grpc(&head.headers);
    remove_hop_by_hop(&mut head.headers);
    if te_trailers {
        grpc::restore_te(&mut head.headers);
    }
    if let Some(protocols) = upgrade {
        restore(&mut head.headers, protocols.clone());
    }
    forwarded_fields(&mut head.headers, identity, conn.scheme.as_str())
}

/// An HTTP/2 client may split `Cookie` into one field per cookie (for HPACK); an
/// HTTP/1.1 backend must get them as one field, joined by `"; "` (RFC 9113 §8.2.3).
fn join_cookies(headers: &mut HeaderMap) {
    let mut cookies = headers.get_all(header::COOKIE).iter();
    let (Some(first), Some(_)) = (cookies.next(), cookies.next()) else {
        return;
    };
    let mut joined = first.as_bytes().to_vec();
    for cookie in headers.get_all(header::COOKIE).iter().skip(1) {
        joined.extend_from_slice(b"; ");
        joined.extend_from_slice(cookie.as_bytes());
    }
    // Joined valid values with "; " are a valid value.
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.insert(header::COOKIE, value);
    }
}

/// Writes `Content-Length` as the number hyper read, never the client's bytes: a
/// zero-padded `010` is 10 to hyper and 8 to a backend that reads octal, and the
/// connection would desynchronise. (hyper has already refused values that differ.)
fn canonical_content_length(headers: &mut HeaderMap) {
    let Some(value) = short_head::get(headers, &header::CONTENT_LENGTH) else {
        return; // Nothing to rewrite, nothing to remove (most requests).
    };
    let parsed = Some(value)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match parsed {
        Some(length) => headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length)),
        None => headers.remove(header::CONTENT_LENGTH),
    };
}

/// Removes hop-by-hop fields from a backend's response head. A `101` keeps
/// `Connection: upgrade` and its `Upgrade`: they tell the client what it switched to.
/// The version is the proxy's, not the backend's (RFC 9110 §6.2: a version is a hop's):
/// an HTTP/1.0 backend's answer must not turn an HTTP/1.1 client's connection into a
/// 1.0 one that closes after every response.
pub(crate) fn downstream_head(response: &mut Response<UpstreamBody>) {
    *response.version_mut() = Version::HTTP_11;
    let switched = (response.status() == StatusCode::SWITCHING_PROTOCOLS)
        .then(|| response.headers().get(header::UPGRADE).cloned())
        .flatten();
    remove_hop_by_hop(response.headers_mut());
    if let Some(protocols) = switched {
        restore(response.headers_mut(), protocols);
    }
}
