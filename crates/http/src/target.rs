//! The request target as routing and the backend see it: its path normalised under
//! the listener's rules (see `sluicegate_routing::normalize`), its query untouched.

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
