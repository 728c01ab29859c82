//! A request head made ready for an HTTP/2 backend: the `Host` the layer above set
//! becomes `:authority` (RFC 9113 §8.3.1: an intermediary that forwards over HTTP/2
//! constructs `:authority` from `Host`), the target goes in absolute form with the
//! connection's scheme, and the version is HTTP/2. hyper drops connection-specific
//! fields itself; `TE: trailers` (which gRPC requires) is the one it keeps.

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Uri, Version, header};

/// `request` as an HTTP/2 request over `scheme` (`http` for h2c, `https` over TLS).
/// A `Host` that is not a valid authority leaves the target as it was: hyper then
/// fails the request, which answers 502 rather than guessing a name.
pub(crate) fn to_h2<B>(mut request: Request<B>, scheme: &str) -> Request<B> {
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok());
    if let Some(authority) = authority {
        let path = request
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let scheme = if scheme == "https" {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        };
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(scheme);
        parts.authority = Some(authority);
        parts.path_and_query = Some(path);
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
            request.headers_mut().remove(header::HOST);
        }
    }
    *request.version_mut() = Version::HTTP_2;
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_becomes_the_authority_of_an_absolute_target() {
        let request = Request::builder()
            .uri("/a?b=1")
            .header("host", "api.example.com:8080")
            .header("te", "trailers")
            .body(())
            .unwrap_or_default();
        let request = to_h2(request, "https");
        assert_eq!(request.uri(), "https://api.example.com:8080/a?b=1");
        assert_eq!(request.version(), Version::HTTP_2);
        assert!(request.headers().get("host").is_none());
        assert_eq!(request.headers()["te"], "trailers");
    }
}
