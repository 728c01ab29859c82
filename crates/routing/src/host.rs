//! Extracting the host a request is for.

use http::request::Parts;

/// The request's host, lower-cased by the caller's matcher, without port: the URI
/// authority when the target is in absolute form (it replaces `Host`, RFC 9112 §3.2.2),
/// else the `Host` header.
pub fn request_host(head: &Parts) -> Option<&str> {
    let raw = match head.uri.authority() {
        Some(authority) => authority.as_str(),
        None => head.headers.get(http::header::HOST)?.to_str().ok()?,
    };
    Some(strip_port(raw))
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`.
fn strip_port(host: &str) -> &str {
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split_once(':').map_or(host, |(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(uri: &str, host: Option<&str>) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        if let Some(h) = host {
            b = b.header("host", h);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn host_header_without_port() {
        assert_eq!(
            request_host(&head("/x", Some("API.example.com:8080"))),
            Some("API.example.com")
        );
        assert_eq!(request_host(&head("/x", Some("[::1]:80"))), Some("[::1]"));
        assert_eq!(request_host(&head("/x", None)), None);
    }

    #[test]
    fn absolute_form_wins() {
        assert_eq!(
            request_host(&head("http://a.example:1/x", Some("b.example"))),
            Some("a.example")
        );
    }
}
