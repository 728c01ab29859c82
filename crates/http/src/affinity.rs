//! The pick key of a request: the client address and, for hashing clusters, the hash
//! of the configured request property (`hash_on`). A request without that property
//! gets no affinity hash, and its cluster falls back to a weighted random pick.

use std::net::IpAddr;

use http::HeaderMap;
use http::request::Parts;
use sluicegate_core::PickKey;
use sluicegate_runtime::{Cluster, HashKey, hash_ip, stable_hash};

/// What `cluster`'s policy may look at to place this request.
pub(crate) fn pick_key(cluster: &Cluster, head: &Parts, client: IpAddr) -> PickKey {
    let affinity = match &cluster.hash_key {
        None => None,
        Some(HashKey::SourceIp) => Some(hash_ip(client)),
        Some(HashKey::Path) => Some(stable_hash(head.uri.path().as_bytes())),
        Some(HashKey::Header(name)) => head.headers.get(name).map(|v| stable_hash(v.as_bytes())),
        Some(HashKey::Cookie(name)) => cookie(&head.headers, name).map(stable_hash),
        Some(HashKey::Query(name)) => query(head.uri.query(), name).map(stable_hash),
    };
    PickKey {
        client_ip: Some(client),
        affinity,
    }
}

/// The raw value of cookie `name` in the first `Cookie` header pair that has it.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a [u8]> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b';'))
        .find_map(|pair| {
            let pair = pair.trim_ascii();
            let eq = pair.iter().position(|&b| b == b'=')?;
            let (key, value) = (&pair[..eq], &pair[eq + 1..]);
            (key.trim_ascii() == name.as_bytes()).then(|| value.trim_ascii())
        })
}

/// The raw (not percent-decoded) value of query parameter `name`; a parameter given
/// without `=` has the empty value.
fn query<'a>(query: Option<&'a str>, name: &str) -> Option<&'a [u8]> {
    query?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value.as_bytes())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn cookie_is_found_among_several_pairs_and_headers() {
        let mut headers = HeaderMap::new();
        headers.append("cookie", HeaderValue::from_static("a=1; theme=dark"));
        headers.append("cookie", HeaderValue::from_static("session = abc ;x=2"));
        assert_eq!(cookie(&headers, "session"), Some(b"abc".as_slice()));
        assert_eq!(cookie(&headers, "theme"), Some(b"dark".as_slice()));
        assert_eq!(cookie(&headers, "sess"), None);
        assert_eq!(cookie(&HeaderMap::new(), "session"), None);
    }

    #[test]
    fn query_parameter_values() {
        assert_eq!(query(Some("a=1&user=42&b"), "user"), Some(b"42".as_slice()));
        assert_eq!(query(Some("a=1&b"), "b"), Some(b"".as_slice()));
        assert_eq!(query(Some("a=1"), "user"), None);
        assert_eq!(query(None, "user"), None);
    }
}
