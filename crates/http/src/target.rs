//! The request target as routing and the backend see it: its path normalised under
//! the listener's rules (see `sluicegate_routing::normalize`), its query untouched;
//! and the plain form of a target that needs no `Uri` parse to be known valid.

use std::borrow::Cow;

use http::Uri;
use http::uri::PathAndQuery;
use sluicegate_routing::{PathError, PathRules, normalize};

use crate::status::ProxyError;

/// Rewrites `uri`'s path in normal form; leaves it alone when it already is (no
/// copy) and for the asterisk form (`OPTIONS *`).
pub(crate) fn normalize_target(uri: &mut Uri, rules: PathRules) -> Result<(), ProxyError> {
    let path = uri.path();
    if path == "*" {
        return Ok(());
    }
    let normal = match normalize(path, rules) {
        Ok(Cow::Borrowed(_)) => return Ok(()),
        Ok(Cow::Owned(normal)) => normal,
        Err(PathError::BadEscape) => {
            return Err(ProxyError::BadRequest(
                "invalid percent-encoding in the path",
            ));
        }
        Err(PathError::EscapedSlash) => {
            return Err(ProxyError::BadRequest("encoded slash in the path"));
        }
    };
    let target = match uri.query() {
        Some(query) => format!("{normal}?{query}"),
        None => normal,
    };
    let invalid = |_| ProxyError::BadRequest("invalid request target");
    let mut parts = std::mem::take(uri).into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(target).map_err(invalid)?);
    *uri = Uri::from_parts(parts).map_err(|_| ProxyError::BadRequest("invalid request target"))?;
    Ok(())
}

/// Whether `target` is `/` followed by unreserved characters, sub-delimiters, `:`,
/// `@`, `%`, `/` and `?` only (RFC 3986 `path-abempty [ "?" query ]` without the
/// percent-encoding check, which `Uri` does not make either).
pub(crate) fn is_plain_origin_form(target: &str) -> bool {
    let bytes = target.as_bytes();
    bytes.first() == Some(&b'/')
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@%/?".contains(&b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    proptest::proptest! {
        /// The fast path never lets through a target that `Uri` would refuse.
        #[test]
        fn a_plain_target_is_a_valid_uri(target in "/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,64}") {
            proptest::prop_assert!(is_plain_origin_form(&target));
            proptest::prop_assert!(Uri::try_from(target.as_str()).is_ok());
        }
    }

    #[test]
    fn only_plain_origin_form_targets_skip_the_parse() {
        for plain in ["/", "/a/b?c=d&e=%2F", "/~u/x;y,z@h:1!$'()*+="] {
            assert!(is_plain_origin_form(plain), "{plain}");
        }
        for other in [
            "",
            "*",
            "a/b",
            "http://h/",
            "/a#b",
            "/a b",
            "/é",
            "/a\\b",
            "/{x}",
            "/\"x",
        ] {
            assert!(!is_plain_origin_form(other), "{other}");
        }
    }

    #[test]
    fn the_path_is_normalised_and_the_query_kept() {
        let mut uri: Uri = "/a/../b%2e?x=/../y".parse().unwrap();
        normalize_target(&mut uri, PathRules::default()).unwrap();
        assert_eq!(uri, "/b.?x=/../y");
        let mut absolute: Uri = "http://h.example/a//b".parse().unwrap();
        normalize_target(&mut absolute, PathRules::default()).unwrap();
        assert_eq!(absolute, "http://h.example/a/b");
        let mut star: Uri = "*".parse().unwrap();
        normalize_target(&mut star, PathRules::default()).unwrap();
        assert_eq!(star, "*");
    }
}
