//! The checks a request head passes before hyper sees it, and the framing of the body
//! that follows it (so [`crate::head_guard`] knows where the next head starts).
//!
//! They are hyper's own checks (the same `httparse`, the same `Content-Length` and
//! `Transfer-Encoding` rules as hyper 1's server parser, taken from its `role.rs`),
//! made here so a refused head is answered with sluicegate's one-line body and counted
//! by reason, plus what hyper lets through: a `#` fragment in the target (hyper drops
//! it, so the backend would get a different target than the client sent; Envoy and
//! HAProxy refuse it too), an unsupported version (505 rather than 400), and
//! the size limits below.

use std::mem::MaybeUninit;

use sluicegate_metrics::RejectReason;

use crate::status::ProxyError;
use crate::upgrade::asks;

/// Largest request head: request line and header fields (431 past it). nginx's
/// `large_client_header_buffers` allows 32 KiB per line, Envoy 60 KiB per head.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Longest request target (414 past it): nginx's and HAProxy's default buffer.
pub(crate) const MAX_TARGET: usize = 8 * 1024;
/// Most header fields in one head (431 past it): hyper's own default.
pub(crate) const MAX_HEADERS: usize = 100;

/// A complete head, as far as the bytes went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Head {
    /// The head is `len` bytes long; `body` follows it. `upgrade`: it asks for an
    /// upgrade that is honoured ([`crate::upgrade::asks`]), so what follows it may be
    /// another protocol's.
    Complete {
        len: usize,
        body: BodyFraming,
        upgrade: bool,
    },
    /// The head has not ended yet.
    Partial,
}

/// How the body after a head is delimited.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// Exactly this many bytes (0: no body).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A head refused: the answer, the counter it goes to, and the request line as far
/// as it was read (for the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) error: ProxyError,
    pub(crate) reason: RejectReason,
    /// `METHOD target` as sent (lossy UTF-8, cut at 256 bytes), if they parsed.
    pub(crate) line: String,
}

/// Checks the head at the start of `bytes` (empty lines before it are skipped, as
/// hyper does).
pub(crate) fn check(bytes: &[u8]) -> Result<Head, Refusal> {
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    checked(bytes, &mut request, &mut headers)
}

/// [`check`], leaving the parse in `request` (its fields in `headers`, at most
/// [`MAX_HEADERS`]): what the in-task server builds the request from
/// ([`crate::h1_server`]), so a head is parsed once.
pub(crate) fn checked<'h, 'b>(
    bytes: &'b [u8],
    request: &mut httparse::Request<'h, 'b>,
    headers: &'h mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Head, Refusal> {
    let parsed = httparse::ParserConfig::default()
        .parse_request_with_uninit_headers(request, bytes, headers);
    let request = &*request;
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if bytes.len() > MAX_HEAD => {
            return Err(refused(
                too_large_head(),
                RejectReason::HeadTooLarge,
                request,
            ));
        }
        Ok(httparse::Status::Partial) => return Ok(Head::Partial),
        Err(error) => return Err(parse_refusal(error, bytes, request)),
    };
    if len > MAX_HEAD {
        return Err(refused(
            too_large_head(),
            RejectReason::HeadTooLarge,
            request,
        ));
    }
    let (Some(target), Some(version)) = (request.path, request.version) else {
        // httparse completed: all three are there.
        return Err(refused(
            malformed("malformed request line"),
            RejectReason::Malformed,
            request,
        ));
    };
    check_target(target).map_err(|(error, reason)| refused(error, reason, request))?;
    let body = framing(version == 1, request.headers)
        .map_err(|what| refused(malformed(what), RejectReason::Framing, request))?;
    let fields = request.headers.iter().map(|h| (h.name, h.value));
    let upgrade = asks(version == 1, body == BodyFraming::Length(0), fields);
    Ok(Head::Complete { len, body, upgrade })
}

fn too_large_head() -> ProxyError {
    ProxyError::HeadTooLarge("request head larger than 64 KiB")
}

/// The refusal of a head past [`MAX_HEAD`] (when its request line is not known).
pub(crate) fn too_large() -> Refusal {
    Refusal {
        error: too_large_head(),
        reason: RejectReason::HeadTooLarge,
        line: String::new(),
    }
}

/// The refusal of a head that did not arrive within `header_read_timeout`.
pub(crate) fn timed_out() -> Refusal {
    Refusal {
        error: ProxyError::RequestTimeout("the request head did not arrive in time"),
        reason: RejectReason::HeadTimeout,
        line: String::new(),
    }
}

fn malformed(what: &'static str) -> ProxyError {
    ProxyError::BadRequest(what)
}

fn refused(
    error: ProxyError,
    reason: RejectReason,
    request: &httparse::Request<'_, '_>,
) -> Refusal {
    let mut line = String::new();
    if let Some(method) = request.method {
        line.push_str(method);
        if let Some(target) = request.path {
            line.push(' ');
            line.push_str(target);
        }
    }
    let mut cut = line.len().min(256);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    line.truncate(cut);
    Refusal {
        error,
        reason,
        line,
    }
}

/// What an `httparse` error means for the client.
fn parse_refusal(
    error: httparse::Error,
    bytes: &[u8],
    request: &httparse::Request<'_, '_>,
) -> Refusal {
    let (error, reason) = match error {
        httparse::Error::Token if request.method.is_none() => {
            (malformed("invalid method"), RejectReason::Malformed)
        }
        httparse::Error::Token => (malformed("invalid request target"), RejectReason::Malformed),
        httparse::Error::HeaderName | httparse::Error::HeaderValue => {
            (malformed("invalid header"), RejectReason::Malformed)
        }
        httparse::Error::TooManyHeaders => (
            ProxyError::HeadTooLarge("more than 100 header fields"),
            RejectReason::HeadTooLarge,
        ),
        httparse::Error::Version if names_a_version(bytes) => (
            ProxyError::VersionNotSupported("HTTP version not supported"),
            RejectReason::Malformed,
        ),
        httparse::Error::Version | httparse::Error::NewLine | httparse::Error::Status => {
            (malformed("malformed request line"), RejectReason::Malformed)
        }
    };
    refused(error, reason, request)
}

/// Whether the request line ends in a well-formed `HTTP/x.y` that is not 1.0 or 1.1.
fn names_a_version(bytes: &[u8]) -> bool {
    let line = bytes
        .split(|&b| b == b'\n')
        .find(|l| !l.is_empty() && *l != b"\r");
    let Some(line) = line else { return false };
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    matches!(version, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
}

/// The target's own rules: its length, no fragment, and a valid URI (hyper's test).
fn check_target(target: &str) -> Result<(), (ProxyError, RejectReason)> {
    if target.len() > MAX_TARGET {
        return Err((
            ProxyError::UriTooLong("request target longer than 8 KiB"),
            RejectReason::UriTooLong,
        ));
    }
    if target.contains('#') {
        return Err((
            malformed("fragment in the request target"),
            RejectReason::Malformed,
        ));
    }
    // An origin-form target of RFC 3986 `pchar`s, `/` and `?` is one `Uri` parses;
    // only another one is parsed here (a copy and a parse: ~200 instructions a request).
    if !crate::target::is_plain_origin_form(target) && http::Uri::try_from(target).is_err() {
        return Err((malformed("invalid request target"), RejectReason::Malformed));
    }
    Ok(())
}

/// The body's framing, by hyper's rules (RFC 9112 §6.3): `Transfer-Encoding` (HTTP/1.1
/// only, `chunked` last, and once: RFC 9112 §6.1, which hyper does not check) wins
/// over `Content-Length`, which must be plain digits and, when repeated, the same.
fn framing(http11: bool, headers: &[httparse::Header<'_>]) -> Result<BodyFraming, &'static str> {
    let mut chunked = None;
    let mut length = None;
    let mut chunked_codings = 0;
    for header in headers {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            if !http11 {
                return Err("Transfer-Encoding in an HTTP/1.0 request");
            }
            chunked_codings += count_chunked(header.value);
            if chunked_codings > 1 {
                return Err("chunked applied more than once");
            }
            chunked = Some(ends_in_chunked(header.value));
        } else if header.name.eq_ignore_ascii_case("content-length") && chunked.is_none() {
            let n = digits(header.value).ok_or("invalid Content-Length")?;
            if length.is_some_and(|seen| seen != n) {
                return Err("conflicting Content-Length headers");
            }
            length = Some(n);
        }
    }
    match chunked {
        Some(true) => Ok(BodyFraming::Chunked),
        Some(false) => Err("Transfer-Encoding does not end in chunked"),
        None => Ok(BodyFraming::Length(length.unwrap_or(0))),
    }
}

/// How many codings of a `Transfer-Encoding` value are `chunked`.
fn count_chunked(value: &[u8]) -> usize {
    value
        .split(|&b| b == b',')
        .filter(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"))
        .count()
}

/// Whether the last coding of a `Transfer-Encoding` value is `chunked`.
fn ends_in_chunked(value: &[u8]) -> bool {
    let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
    last.trim_ascii().eq_ignore_ascii_case(b"chunked")
}

/// A `Content-Length` value: ASCII digits only (no sign, no list), no overflow.
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn complete(head: &[u8]) -> BodyFraming {
        match check(head) {
            Ok(Head::Complete { len, body, .. }) => {
                assert_eq!(len, head.len());
                body
            }
            other => panic!("{other:?}"),
        }
    }

    fn refusal(head: &[u8]) -> String {
        match check(head) {
            Err(r) => r.error.to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn framing_follows_hyper() {
        assert_eq!(
            complete(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            BodyFraming::Length(0)
        );
        assert_eq!(
            complete(b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            BodyFraming::Length(0)
        );
        assert_eq!(
            complete(b"POST / HTTP/1.1\r\nContent-Length: 010\r\n\r\n"),
            BodyFraming::Length(10)
        );
        let both = b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(complete(both), BodyFraming::Length(5));
        let te_last =
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n";
        assert_eq!(complete(te_last), BodyFraming::Chunked);
        // After Transfer-Encoding, Content-Length is ignored (hyper removes it).
        let te_first =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n";
        assert_eq!(complete(te_first), BodyFraming::Chunked);
    }

    #[test]
    fn upgrade_requests_are_told_apart() {
        let upgrade =
            |head: &[u8]| matches!(check(head), Ok(Head::Complete { upgrade, .. }) if upgrade);
        let ws =
            b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";
        assert!(upgrade(ws));
        assert!(!upgrade(
            b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"
        ));
        assert!(!upgrade(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n"
        ));
        assert!(!upgrade(
            b"GET / HTTP/1.0\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        ));
        assert!(!upgrade(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
        ));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        assert_eq!(check(b"GET / HTTP/1.1\r\nHost: a\r\n"), Ok(Head::Partial));
        assert_eq!(
            refusal(b"GET /#x HTTP/1.1\r\n\r\n"),
            "fragment in the request target"
        );
        assert_eq!(
            refusal(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            "conflicting Content-Length headers"
        );
        let overflow = format!("POST / HTTP/1.1\r\nContent-Length: {}0\r\n\r\n", u64::MAX);
        assert_eq!(refusal(overflow.as_bytes()), "invalid Content-Length");
        assert_eq!(
            refusal(b"GET / HTTP/3.0\r\n\r\n"),
            "HTTP version not supported"
        );
        assert_eq!(
            refusal(b"GET / HTTP/1.10\r\n\r\n"),
            "malformed request line"
        );
        let partial_huge = format!("GET / HTTP/1.1\r\nX: {}", "x".repeat(MAX_HEAD));
        assert_eq!(
            refusal(partial_huge.as_bytes()),
            "request head larger than 64 KiB"
        );
    }

    #[test]
    fn the_refused_line_is_kept_for_the_log_and_cut() {
        let Err(r) = check(b"GET /a#b HTTP/1.1\r\n\r\n") else {
            panic!()
        };
        assert_eq!(r.line, "GET /a#b");
        assert_eq!(r.reason, RejectReason::Malformed);
        let long = format!("GET /{}# HTTP/1.1\r\n\r\n", "é".repeat(300));
        let Err(r) = check(long.as_bytes()) else {
            panic!()
        };
        assert!(r.line.len() <= 256 && r.line.starts_with("GET /é"));
    }
}
