//! `listeners.*.routes[*].match`: a route's conditions (host, path, methods, headers)
//! validated into a [`MatchSpec`].

use crate::errors::Errors;
use crate::raw::RawMatch;
use crate::spec::{HostMatch, MatchSpec, PathMatch};

/// The conditions of one route, or `None` (with errors pushed) if any is invalid.
pub(crate) fn match_spec(errors: &mut Errors<'_>, at: &str, m: &RawMatch) -> Option<MatchSpec> {
    let before = errors.count();
    let host = m
        .host
        .as_deref()
        .and_then(|h| host_match(errors, at, "host", h));
    if m.sni.is_some() {
        let msg = "applies to tls_passthrough routes only (an http route matches host:)";
        errors.push(format!("{at}.sni"), msg);
    }
    let path = match (&m.path, &m.path_prefix) {
        (Some(_), Some(_)) => {
            errors.push(
                format!("{at}.path"),
                "set either path or path_prefix, not both",
            );
            None
        }
        (Some(p), None) => check_path(errors, format!("{at}.path"), p).map(PathMatch::Exact),
        (None, Some(p)) => {
            check_path(errors, format!("{at}.path_prefix"), p).map(PathMatch::Prefix)
        }
        (None, None) => None,
    };
    let mut methods = Vec::new();
    for (i, method) in m.methods.iter().flatten().enumerate() {
        if method.is_empty() || !method.bytes().all(is_token_byte) {
            errors.push(
                format!("{at}.methods[{i}]"),
                format!("invalid method \"{method}\""),
            );
        } else {
            methods.push(method.to_ascii_uppercase());
        }
    }
    let mut headers = Vec::new();
    for (name, value) in m.headers.iter().flatten() {
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            errors.push(
                format!("{at}.headers.{name}"),
                format!("invalid header name \"{name}\""),
            );
        } else if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            errors.push(
                format!("{at}.headers.{name}"),
                "header value contains control characters",
            );
        } else {
            headers.push((name.to_ascii_lowercase(), value.clone()));
        }
    }
    // By lower-case name, whatever case the file used: the same conditions compare equal.
    headers.sort();
    (errors.count() == before).then_some(MatchSpec {
        host,
        path,
        methods,
        headers,
    })
}

/// `key` (`host`, or `sni` on a passthrough route) of the match at `at`: an exact
/// name or a `*.suffix` wildcard, lower-cased.
pub(crate) fn host_match(
    errors: &mut Errors<'_>,
    at: &str,
    key: &str,
    host: &str,
) -> Option<HostMatch> {
    let lower = host.to_ascii_lowercase();
    let (wildcard, rest) = match lower.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, lower.as_str()),
    };
    let valid = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !rest.starts_with('.')
        && !rest.ends_with('.');
    if !valid {
        let msg = format!(
            "invalid {key} \"{host}\" (expected a name like api.example.com or *.example.com, without port)"
        );
        errors.push(format!("{at}.{key}"), msg);
        return None;
    }
    Some(if wildcard {
        HostMatch::Suffix(format!(".{rest}"))
    } else {
        HostMatch::Exact(lower)
    })
}

fn check_path(errors: &mut Errors<'_>, at: String, path: &str) -> Option<String> {
    if !path.starts_with('/') {
        errors.push(at, format!("path \"{path}\" must start with \"/\""));
        return None;
    }
    if path.contains(['?', '#']) || path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        errors.push(
            at,
            format!("path \"{path}\" must not contain spaces, '?' or '#'"),
        );
        return None;
    }
    Some(path.to_string())
}

pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
