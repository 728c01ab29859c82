//! What a request must satisfy before it is routed (RFC 9112 §3.2): no `CONNECT`,
//! the asterisk form only with `OPTIONS`, one `Host` that is a valid authority
//! without userinfo, an absolute-form target (or HTTP/2 `:authority`) that can become
//! `Host` and names the connection's own scheme, no transfer coding but `chunked`, no
//! expectation but `100-continue`, and no loop through this proxy.

use http::request::Parts;
use http::uri::Scheme;
use http::{Method, Version, header};
use sluicegate_upstream::short_head;

use crate::status::ProxyError;
use crate::via::{MAX_OWN_HOPS, own_hops};

/// Checks what must hold before a request that came over `scheme` (`http`, or `https`
/// on a TLS listener) is routed (RFC 9112 §3.2).
pub(crate) fn check_request(head: &Parts, scheme: &Scheme) -> Result<(), ProxyError> {
    if head.method == Method::CONNECT {
        return Err(ProxyError::MethodNotAllowed(head.method.to_string()));
    }
    // `*` targets the server itself (RFC 9112 §3.2.4): a backend must not get it
    // as a path.
    if head.uri.path() == "*" && head.method != Method::OPTIONS {
        return Err(ProxyError::BadRequest(
            "the asterisk form is only for OPTIONS",
        ));
    }
    let mut hosts = short_head::get_all(&head.headers, &header::HOST);
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(ProxyError::BadRequest("more than one Host header"));
    }
    if host.is_some_and(|h| !valid_host(h.as_bytes())) {
        return Err(ProxyError::BadRequest("invalid Host header"));
    }
    let hosts = usize::from(host.is_some());
    if hosts == 0 && head.version == Version::HTTP_11 && head.uri.authority().is_none() {
        return Err(ProxyError::BadRequest("missing Host header"));
    }
    check_absolute_form(head, scheme)?;
    if may_have_codings_or_expect(&head.headers) {
        check_codings(head)?;
        check_expect(head)?;
    }
    match own_hops(&head.headers) {
        hops if hops > MAX_OWN_HOPS => Err(ProxyError::LoopDetected(hops)),
        _ => Ok(()),
    }
}

/// Whether a `Host` value is `host[:port]` (RFC 9110 §7.2): empty (allowed when the
/// target has no authority), or an authority without userinfo, which routing and the
/// backend would read differently (`x@b`: routed as `b`, sent as `x@b`).
fn valid_host(value: &[u8]) -> bool {
    value.is_empty()
        || plain_host(value)
        || (!value.contains(&b'@') && http::uri::Authority::try_from(value).is_ok())
}

/// Whether `value` is a name or IPv4 address of letters, digits, `.` and `-`, with
/// up to five port digits: an authority `Authority` accepts, known without its parse
/// (a copy and a parse: ~200 instructions a request).
fn plain_host(value: &[u8]) -> bool {
    let mut parts = value.splitn(2, |&b| b == b':');
    let host = parts.next().unwrap_or_default();
    let port = parts.next();
    !host.is_empty()
        && host
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.iter().all(u8::is_ascii_digit))
}

/// An absolute-form target's authority becomes `Host` (RFC 9112 §3.2.2), so it must
/// be one: no userinfo, and only the connection's scheme (`https://` on cleartext
/// would claim a security the hop did not have; RFC 9113 §8.3.1 says the same of
/// `:scheme`).
fn check_absolute_form(head: &Parts, connection: &Scheme) -> Result<(), ProxyError> {
    if let Some(scheme) = head.uri.scheme()
        && scheme != connection
    {
        return Err(ProxyError::BadRequest(if *connection == Scheme::HTTPS {
            "the request target's scheme is not https"
        } else {
            "the request target's scheme is not http"
        }));
    }
    if head
        .uri
        .authority()
        .is_some_and(|a| a.as_str().contains('@'))
    {
        return Err(ProxyError::BadRequest("userinfo in the request target"));
    }
    Ok(())
}

/// hyper decodes `chunked` and the body goes upstream re-framed: any other coding
/// (`gzip, chunked`) would be lost on the way, so it is refused (as nginx does).
fn check_codings(head: &Parts) -> Result<(), ProxyError> {
    if has_other_member(head, &header::TRANSFER_ENCODING, b"chunked") {
        return Err(ProxyError::NotImplemented(
            "transfer coding other than chunked is not supported",
        ));
    }
    Ok(())
}

/// `100-continue` is the only expectation there is (RFC 9110 §10.1.1), and the one
/// sluicegate meets (hyper sends the `100` when the body is first read); any other
/// member is one it cannot meet: 417, as Apache httpd answers.
fn check_expect(head: &Parts) -> Result<(), ProxyError> {
    if has_other_member(head, &header::EXPECT, b"100-continue") {
        return Err(ProxyError::ExpectationFailed(
            "only the 100-continue expectation is supported",
        ));
    }
    Ok(())
}

/// Whether the head may have `Transfer-Encoding` or `Expect`: one pass over a short
/// head's names for both, since nearly every request has neither (a scan for each
/// cost ~40 instructions a request under callgrind); a long head is looked up.
fn may_have_codings_or_expect(headers: &http::HeaderMap) -> bool {
    headers.len() > short_head::SCANNED
        || headers
            .keys()
            .any(|n| n == header::TRANSFER_ENCODING || n == header::EXPECT)
}

/// Whether a member of the comma-separated list in the `name` fields is other than
/// `allowed` (compared without case, whitespace around it trimmed).
fn has_other_member(head: &Parts, name: &header::HeaderName, allowed: &[u8]) -> bool {
    short_head::get_all(&head.headers, name)
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|member| !member.trim_ascii().eq_ignore_ascii_case(allowed))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The fast path never lets through a `Host` that `Authority` would refuse.
        #[test]
        fn a_plain_host_is_an_authority(host in "[A-Za-z0-9.-]{1,40}(:[0-9]{1,5})?") {
            proptest::prop_assert!(plain_host(host.as_bytes()));
            proptest::prop_assert!(http::uri::Authority::try_from(host.as_bytes()).is_ok());
        }
    }

    #[test]
    fn only_plain_hosts_skip_the_parse() {
        for plain in ["example.com", "127.0.0.1:18090", "a-b.c:1"] {
            assert!(plain_host(plain.as_bytes()), "{plain}");
        }
        for other in [
            ":80", "h:", "h:123456", "[::1]:80", "u@h", "h h", "h:8a", "é",
        ] {
            assert!(!plain_host(other.as_bytes()), "{other}");
        }
    }
}
