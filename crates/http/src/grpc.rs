//! Recognising gRPC requests (`content-type: application/grpc`, with or without a
//! `+proto`/`+json` suffix), whose errors are answered in gRPC form
//! ([`crate::status::ProxyError::to_grpc_response`]), and the one hop-by-hop field
//! they keep: `TE: trailers`, which gRPC servers require (gRPC over HTTP/2 spec) and
//! which is the one `TE` value HTTP/2 allows (RFC 9113 §8.2.2).

use http::{HeaderMap, HeaderValue, header};
use sluicegate_upstream::short_head;

/// Whether a request with these headers is a gRPC call.
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    short_head::get(headers, &header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.trim_start();
            v.len() >= 16
                && v[..16].eq_ignore_ascii_case("application/grpc")
                && matches!(v.as_bytes().get(16), None | Some(b'+' | b';'))
        })
}

/// Whether the client's `TE` lists `trailers`.
pub(crate) fn wants_trailers(headers: &HeaderMap) -> bool {
    short_head::get_all(headers, &header::TE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("trailers"))
        })
}

/// Puts `TE: trailers` back on a gRPC request's head after its hop-by-hop fields went.
pub(crate) fn restore_te(headers: &mut HeaderMap) {
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn grpc_content_types() {
        assert!(is_grpc(&headers(&[("content-type", "application/grpc")])));
        assert!(is_grpc(&headers(&[(
            "content-type",
            "application/grpc+proto"
        )])));
        assert!(is_grpc(&headers(&[(
            "content-type",
            "Application/GRPC; x=1"
        )])));
        assert!(!is_grpc(&headers(&[(
            "content-type",
            "application/grpc-web"
        )])));
        assert!(!is_grpc(&headers(&[("content-type", "application/json")])));
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn te_trailers() {
        assert!(wants_trailers(&headers(&[("te", "trailers")])));
        assert!(wants_trailers(&headers(&[("te", "gzip, trailers;q=1")])));
        assert!(!wants_trailers(&headers(&[("te", "gzip")])));
    }
}
