//! Every data-plane failure and the status it maps to: the one place statuses are chosen,
//! in both shapes: an HTTP status with a one-line text body, or, for a gRPC request, a
//! gRPC status (HTTP 200, trailers-only: `grpc-status` and `grpc-message`), since a
//! gRPC client reads the status from there and treats any other HTTP status as a
//! transport failure.
//!
//! Bodies are short plain text saying what happened. They name the cluster but not the
//! backend's address (clients should not learn the internal topology); the log line
//! carries the address.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use sluicegate_metrics::ErrorKind;

use crate::body::ProxyBody;

/// `Retry-After` of a shed request, in seconds: soon, since overload passes quickly or
/// the client is better served elsewhere (HAProxy and Envoy send none; a client that
/// honours it must not wait long).
const RETRY_AFTER: &str = "1";

/// A request the proxy answers itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The request is malformed (missing or repeated Host, …).
    #[error("{0}")]
    BadRequest(&'static str),
    /// The client did not send its request (head, or the next body bytes) in time.
    #[error("{0}")]
    RequestTimeout(&'static str),
    /// The request body is larger than the listener accepts (`max_request_body`).
    #[error("{0}")]
    PayloadTooLarge(&'static str),
    /// The request head is larger than sluicegate accepts (bytes or fields).
    #[error("{0}")]
    HeadTooLarge(&'static str),
    /// The request target is longer than sluicegate accepts.
    #[error("{0}")]
    UriTooLong(&'static str),
    /// The request names an HTTP version other than 1.0 and 1.1.
    #[error("{0}")]
    VersionNotSupported(&'static str),
    /// The method cannot be proxied (CONNECT).
    #[error("method {0} is not supported")]
    MethodNotAllowed(String),
    /// The request uses something sluicegate does not forward faithfully (a transfer
    /// coding other than `chunked`), refused rather than altered.
    #[error("{0}")]
    NotImplemented(&'static str),
    /// The request has an `Expect` other than `100-continue`, which sluicegate
    /// cannot meet (RFC 9110 §10.1.1).
    #[error("{0}")]
    ExpectationFailed(&'static str),
    /// The client closed or reset its connection (or HTTP/2 stream) before its request
    /// body ended: nobody is left to answer (nginx's 499, "client closed request").
    #[error("the client closed the connection before its request body ended")]
    ClientClosed,
    /// The request already passed through this process too often: a cluster whose
    /// backend is one of this process's listeners.
    #[error("loop detected: the request came back through this proxy {0} times")]
    LoopDetected(usize),
    /// No route of the listener matched.
    #[error("no route matches this request")]
    NoRoute,
    /// The cluster has no eligible backend.
    #[error("no healthy backend in cluster \"{cluster}\"")]
    NoBackend {
        /// Cluster name.
        cluster: String,
    },
    /// The backend refused or reset the connection attempt.
    #[error("could not connect to a backend of cluster \"{cluster}\" ({reason})")]
    ConnectFailed {
        /// Cluster name.
        cluster: String,
        /// Short cause, e.g. "connection refused".
        reason: String,
    },
    /// The backend did not accept the connection in time.
    #[error("timed out connecting to a backend of cluster \"{cluster}\"")]
    ConnectTimeout {
        /// Cluster name.
        cluster: String,
    },
    /// The backend accepted but sent no response head in time.
    #[error("a backend of cluster \"{cluster}\" did not respond in time")]
    ResponseTimeout {
        /// Cluster name.
        cluster: String,
    },
    /// The proxy sheds the request rather than queue it without bound: out of a local
    /// resource (file descriptors), or every place to wait for a backend is taken.
    #[error("{0}")]
    Overloaded(&'static str),
    /// Every backend tried was at its `max_connections` with its queue full, or stayed
    /// there for the whole queue timeout.
    #[error("the backends of cluster \"{cluster}\" are at their connection limit ({why})")]
    Saturated {
        /// Cluster name.
        cluster: String,
        /// `queue full` or `queue timeout`.
        why: &'static str,
    },
    /// The route's rate limit refused the request: its key's bucket is empty.
    #[error("rate limit of {per_second} requests a second exceeded")]
    RateLimited {
        /// The limit's rate (`RateLimit-Limit`).
        per_second: u32,
        /// Seconds until a token is back (`Retry-After`, `RateLimit-Reset`).
        retry_after: u64,
    },
    /// The backend closed, reset, or sent something that is not a valid HTTP response.
    #[error("a backend of cluster \"{cluster}\" sent an invalid response or closed the connection")]
    BadResponse {
        /// Cluster name.
        cluster: String,
    },
}

impl ProxyError {
    /// The status a client gets for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProxyError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ProxyError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::HeadTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ProxyError::UriTooLong(_) => StatusCode::URI_TOO_LONG,
            ProxyError::VersionNotSupported(_) => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            ProxyError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ProxyError::ExpectationFailed(_) => StatusCode::EXPECTATION_FAILED,
            ProxyError::ClientClosed => client_closed_status(),
            ProxyError::LoopDetected(_) => StatusCode::LOOP_DETECTED,
            ProxyError::NoRoute => StatusCode::NOT_FOUND,
            ProxyError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::NoBackend { .. }
            | ProxyError::Overloaded(_)
            | ProxyError::Saturated { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::ConnectFailed { .. } | ProxyError::BadResponse { .. } => {
                StatusCode::BAD_GATEWAY
            }
            ProxyError::ConnectTimeout { .. } | ProxyError::ResponseTimeout { .. } => {
                StatusCode::GATEWAY_TIMEOUT
            }
        }
    }

    /// A stable short name for logs and, later, metrics labels.
    pub fn kind(&self) -> &'static str {
        match self {
            ProxyError::BadRequest(_) => "bad_request",
            ProxyError::RequestTimeout(_) => "request_timeout",
            ProxyError::PayloadTooLarge(_) => "payload_too_large",
            ProxyError::HeadTooLarge(_) => "head_too_large",
            ProxyError::UriTooLong(_) => "uri_too_long",
            ProxyError::VersionNotSupported(_) => "version_not_supported",
            ProxyError::MethodNotAllowed(_) => "method_not_allowed",
            ProxyError::NotImplemented(_) => "not_implemented",
            ProxyError::ExpectationFailed(_) => "expectation_failed",
            ProxyError::ClientClosed => "client_closed",
            ProxyError::LoopDetected(_) => "loop_detected",
            ProxyError::NoRoute => "no_route",
            ProxyError::RateLimited { .. } => "rate_limited",
            ProxyError::NoBackend { .. } => "no_backend",
            ProxyError::Overloaded(_) => "overloaded",
            ProxyError::Saturated { .. } => "saturated",
            ProxyError::ConnectFailed { .. } => "connect_failed",
            ProxyError::ConnectTimeout { .. } => "connect_timeout",
            ProxyError::ResponseTimeout { .. } => "response_timeout",
            ProxyError::BadResponse { .. } => "bad_response",
        }
    }

    /// Its `kind` label in `sluicegate_errors_total`.
    pub fn metric_kind(&self) -> ErrorKind {
        match self {
            ProxyError::BadRequest(_)
            | ProxyError::RequestTimeout(_)
            | ProxyError::PayloadTooLarge(_)
            | ProxyError::HeadTooLarge(_)
            | ProxyError::UriTooLong(_)
            | ProxyError::VersionNotSupported(_)
            | ProxyError::MethodNotAllowed(_)
            | ProxyError::NotImplemented(_)
            | ProxyError::ExpectationFailed(_) => ErrorKind::BadRequest,
            ProxyError::NoRoute => ErrorKind::NoRoute,
            ProxyError::RateLimited { .. } => ErrorKind::RateLimited,
            ProxyError::ClientClosed => ErrorKind::ClientClosed,
            ProxyError::LoopDetected(_) => ErrorKind::BadGateway,
            ProxyError::NoBackend { .. } => ErrorKind::NoBackend,
            ProxyError::Overloaded(_) | ProxyError::Saturated { .. } => ErrorKind::Overloaded,
            ProxyError::ConnectFailed { .. } | ProxyError::BadResponse { .. } => {
                ErrorKind::BadGateway
            }
            ProxyError::ConnectTimeout { .. } | ProxyError::ResponseTimeout { .. } => {
                ErrorKind::Timeout
            }
        }
    }

    /// The response sent to the client: status, and `"<code> <reason>: <what>\n"`.
    pub fn to_response(&self) -> Response<ProxyBody> {
        let status = self.status();
        let text = format!(
            "{} {}: {self}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error")
        );
        let mut response = Response::new(ProxyBody::local(text));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        // The body may not have been read, or the head was not: the connection cannot
        // carry another request.
        if matches!(
            self,
            ProxyError::BadRequest(_)
                | ProxyError::RequestTimeout(_)
                | ProxyError::PayloadTooLarge(_)
                | ProxyError::HeadTooLarge(_)
                | ProxyError::UriTooLong(_)
                | ProxyError::VersionNotSupported(_)
                | ProxyError::NotImplemented(_)
                | ProxyError::ExpectationFailed(_)
                | ProxyError::ClientClosed
        ) {
            headers.insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        if matches!(
            self,
            ProxyError::Overloaded(_) | ProxyError::Saturated { .. }
        ) {
            headers.insert(
                header::RETRY_AFTER,
                header::HeaderValue::from_static(RETRY_AFTER),
            );
        }
        if let ProxyError::RateLimited {
            per_second,
            retry_after,
        } = self
        {
            rate_limit_headers(headers, *per_second, *retry_after);
        }
        response
    }
}

/// 499, nginx's "client closed request": no standard status says it, and the client
/// never sees it (it is gone); it is what the access log and the counters show.
fn client_closed_status() -> StatusCode {
    StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST)
}

/// `Retry-After` and the IETF draft's `RateLimit-Limit`, `RateLimit-Remaining` and
/// `RateLimit-Reset` (draft-ietf-httpapi-ratelimit-headers, as Envoy and Kong send
/// them) on a 429.
fn rate_limit_headers(headers: &mut http::HeaderMap, per_second: u32, retry_after: u64) {
    let after = header::HeaderValue::from(retry_after);
    headers.insert(header::RETRY_AFTER, after.clone());
    headers.insert("ratelimit-limit", header::HeaderValue::from(per_second));
    headers.insert("ratelimit-remaining", header::HeaderValue::from_static("0"));
    headers.insert("ratelimit-reset", after);
}

/// gRPC status codes sluicegate answers with (grpc/doc/statuscodes.md).
pub mod grpc_code {
    /// The request was malformed, from gRPC's point of view an internal error.
    pub const INTERNAL: u32 = 13;
    /// The request is larger than the proxy accepts.
    pub const RESOURCE_EXHAUSTED: u32 = 8;
    /// No route serves the method.
    pub const UNIMPLEMENTED: u32 = 12;
    /// No backend could take it: no healthy one, a failed connect or exchange.
    pub const UNAVAILABLE: u32 = 14;
    /// The backend did not answer in time.
    pub const DEADLINE_EXCEEDED: u32 = 4;
    /// Anything else (a loop through this proxy).
    pub const UNKNOWN: u32 = 2;
    /// The client went away first.
    pub const CANCELLED: u32 = 1;
}

impl ProxyError {
    /// The gRPC status a gRPC client gets for this error (Envoy's choices).
    pub fn grpc_code(&self) -> u32 {
        match self {
            ProxyError::BadRequest(_)
            | ProxyError::RequestTimeout(_)
            | ProxyError::HeadTooLarge(_)
            | ProxyError::UriTooLong(_)
            | ProxyError::VersionNotSupported(_)
            | ProxyError::MethodNotAllowed(_)
            | ProxyError::NotImplemented(_)
            | ProxyError::ExpectationFailed(_) => grpc_code::INTERNAL,
            ProxyError::PayloadTooLarge(_) => grpc_code::RESOURCE_EXHAUSTED,
            ProxyError::NoRoute => grpc_code::UNIMPLEMENTED,
            ProxyError::RateLimited { .. } => grpc_code::RESOURCE_EXHAUSTED,
            ProxyError::NoBackend { .. }
            | ProxyError::Overloaded(_)
            | ProxyError::Saturated { .. }
            | ProxyError::ConnectFailed { .. }
            | ProxyError::ConnectTimeout { .. }
            | ProxyError::BadResponse { .. } => grpc_code::UNAVAILABLE,
            ProxyError::ResponseTimeout { .. } => grpc_code::DEADLINE_EXCEEDED,
            ProxyError::LoopDetected(_) => grpc_code::UNKNOWN,
            ProxyError::ClientClosed => grpc_code::CANCELLED,
        }
    }

    /// The response a gRPC client gets: HTTP 200, `content-type: application/grpc`,
    /// `grpc-status` and `grpc-message` (percent-encoded, as the gRPC spec asks), no
    /// body.
    pub fn to_grpc_response(&self) -> Response<ProxyBody> {
        let mut response = Response::new(ProxyBody::local(Bytes::new()));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", header::HeaderValue::from(self.grpc_code()));
        let message = grpc_message(&self.to_string());
        if let Ok(message) = header::HeaderValue::from_str(&message) {
            headers.insert("grpc-message", message);
        }
        response
    }
}

/// `text` percent-encoded for `grpc-message`: printable ASCII but `%` as is.
fn grpc_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_shapes() {
        let c = || "api".to_string();
        let no_backend = ProxyError::NoBackend { cluster: c() }.to_grpc_response();
        assert_eq!(no_backend.status(), 200);
        assert_eq!(no_backend.headers()["grpc-status"], "14");
        assert_eq!(
            no_backend.headers()["grpc-message"],
            "no healthy backend in cluster \"api\""
        );
        let timeout = ProxyError::ResponseTimeout { cluster: c() };
        assert_eq!(timeout.grpc_code(), 4);
        assert_eq!(ProxyError::NoRoute.grpc_code(), 12);
        assert_eq!(grpc_message("50% é\n"), "50%25 %C3%A9%0A");
    }

    #[test]
    fn statuses() {
        let c = || "api".to_string();
        assert_eq!(ProxyError::NoRoute.status(), 404);
        assert_eq!(ProxyError::BadRequest("x").status(), 400);
        assert_eq!(ProxyError::NotImplemented("x").status(), 501);
        assert_eq!(ProxyError::HeadTooLarge("x").status(), 431);
        assert_eq!(ProxyError::UriTooLong("x").status(), 414);
        assert_eq!(ProxyError::VersionNotSupported("x").status(), 505);
        assert_eq!(ProxyError::LoopDetected(4).status(), 508);
        assert_eq!(ProxyError::ExpectationFailed("x").status(), 417);
        assert_eq!(ProxyError::ClientClosed.status(), 499);
        assert_eq!(ProxyError::NoBackend { cluster: c() }.status(), 503);
        let refused = ProxyError::ConnectFailed {
            cluster: c(),
            reason: "connection refused".into(),
        };
        assert_eq!(refused.status(), 502);
        assert_eq!(ProxyError::BadResponse { cluster: c() }.status(), 502);
        assert_eq!(ProxyError::ConnectTimeout { cluster: c() }.status(), 504);
        assert_eq!(ProxyError::ResponseTimeout { cluster: c() }.status(), 504);
    }
}
