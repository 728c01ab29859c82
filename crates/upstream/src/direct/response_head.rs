//! A backend's response head, parsed from the front of the connection's read
//! buffer by the in-task client: the status, version and fields (values shared with
//! the buffer, not copied), how the body after it is delimited and whether the
//! connection may carry another request (`framing.rs`).
//!
//! The same rules as hyper's client: informational responses (1xx other than 101)
//! are skipped by the caller; obs-fold, an invalid field or an invalid
//! `Content-Length` is an error (a 502), never a guess.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::response::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode, Version, header};

pub(crate) use super::framing::Framing;
use super::framing::Noted;
use crate::field_names::FieldNames;
use crate::spare_maps;

/// The largest response head: the 64 KiB a client's head may have, as for hyper's
/// client in `pool.rs`.
pub(crate) const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// Most header fields in a response head (hyper's default).
const MAX_FIELDS: usize = 100;

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) parts: Parts,
    pub(crate) framing: Framing,
    /// Whether the connection may carry another request after this response.
    pub(crate) keep_alive: bool,
}

/// A response head that cannot be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HeadError {
    /// The head is larger than [`MAX_RESPONSE_HEAD`].
    #[error("response head larger than {MAX_RESPONSE_HEAD} bytes")]
    TooLarge,
    /// Not an HTTP/1 response head.
    #[error("invalid response head: {0}")]
    Invalid(&'static str),
}

/// The complete head at the front of `buf` (taken off it), `None` while it has not
/// ended; its field names through the connection's `names`. `head_request`: it
/// answers a `HEAD`, so it has no body whatever its fields say.
pub(crate) fn parse(
    buf: &mut BytesMut,
    names: &mut FieldNames,
    head_request: bool,
) -> Result<Option<ResponseHead>, HeadError> {
    // Uninitialised: zeroing a hundred fields would cost more than parsing them.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut fields,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() > MAX_RESPONSE_HEAD => {
            return Err(HeadError::TooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::Invalid("too many fields")),
        Err(_) => return Err(HeadError::Invalid("malformed")),
    };
    if len > MAX_RESPONSE_HEAD {
        return Err(HeadError::TooLarge);
    }
    let code = response.code.ok_or(HeadError::Invalid("no status"))?;
    let status = StatusCode::from_u16(code).map_err(|_| HeadError::Invalid("status"))?;
    let version = match response.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // Where each field lies, so the head can leave the buffer as one shared `Bytes`
    // and each value be a slice of it once the parse lets go of the buffer.
    let base = buf.as_ptr() as usize;
    // (u32: a head is at most 64 KiB, and a smaller array is cheaper to zero.)
    let mut spans = [[0u32; 4]; MAX_FIELDS];
    let count = response.headers.len();
    for (span, field) in spans.iter_mut().zip(response.headers.iter()) {
        let name = field.name.as_ptr() as usize - base;
        let value = field.value.as_ptr() as usize - base;
        let ends = [
            name,
            name + field.name.len(),
            value,
            value + field.value.len(),
        ];
        *span = ends.map(|at| u32::try_from(at).unwrap_or(u32::MAX));
    }
    let head = buf.split_to(len).freeze();
    let (mut headers, noted) = fields_of(&head, &spans[..count], names)?;
    let (framing, reusable) = noted.framing(status, head_request)?;
    if framing == Framing::Chunked && noted.has_length() {
        // RFC 9112 §6.3: the coding wins, and a forwarded message must not keep a
        // length that no longer describes it.
        headers.remove(header::CONTENT_LENGTH);
    }
    let keep_alive = reusable && noted.persists(version);
    let mut parts = Response::new(()).into_parts().0;
    parts.status = status;
    parts.version = version;
    parts.headers = headers;
    Ok(Some(ResponseHead {
        parts,
        framing,
        keep_alive,
    }))
}

/// The fields of `head` at `spans` (name start and end, value start and end), in
/// order (values share `head`'s bytes), and what the framing rules need of them,
/// noted on the way rather than looked up after.
fn fields_of(
    head: &Bytes,
    spans: &[[u32; 4]],
    names: &mut FieldNames,
) -> Result<(HeaderMap, Noted), HeadError> {
    let mut headers = spare_maps::take(spans.len());
    let mut noted = Noted::default();
    for (i, span) in spans.iter().enumerate() {
        let [n0, n1, v0, v1] = span.map(|at| at as usize);
        if n1 > head.len() || v1 > head.len() || n0 > n1 || v0 > v1 {
            return Err(HeadError::Invalid("field outside the head"));
        }
        let name = names
            .name(i, head.get(n0..n1).unwrap_or_default())
            .map_err(|_| HeadError::Invalid("field name"))?;
        let bytes = head.get(v0..v1).unwrap_or_default();
        if noted.note(&name, bytes) {
            continue; // This connection's alone, read: not passed on.
        }
        let value = HeaderValue::from_maybe_shared(head.slice(v0..v1))
            .map_err(|_| HeadError::Invalid("field value"))?;
        headers.append(name, value);
    }
    Ok((headers, noted))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn head(text: &str, head_request: bool) -> Result<Option<ResponseHead>, HeadError> {
        let mut buf = BytesMut::from(text.as_bytes());
        parse(&mut buf, &mut FieldNames::default(), head_request)
    }

    #[test]
    fn a_length_delimited_head_parses_and_leaves_the_body() {
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello"
                [..],
        );
        let parsed = parse(&mut buf, &mut FieldNames::default(), false)
            .unwrap()
            .unwrap();
        assert_eq!(parsed.parts.status, StatusCode::OK);
        assert_eq!(parsed.parts.version, Version::HTTP_11);
        assert_eq!(parsed.parts.headers["server"], "x");
        let all: Vec<_> = parsed.parts.headers.get_all("x-a").iter().collect();
        assert_eq!(all, ["1", "2"]);
        assert_eq!(parsed.framing, Framing::Length(5));
        assert!(parsed.keep_alive);
        assert_eq!(&buf[..], b"hello");
    }

    #[test]
    fn a_partial_head_waits_and_an_oversized_one_fails() {
        assert!(
            head("HTTP/1.1 200 OK\r\nServer: x\r\n", false)
                .unwrap()
                .is_none()
        );
        let huge = format!(
            "HTTP/1.1 200 OK\r\nX: {}\r\n",
            "a".repeat(MAX_RESPONSE_HEAD)
        );
        assert_eq!(head(&huge, false).unwrap_err(), HeadError::TooLarge);
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let cases = [
            (
                "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
                false,
                Framing::Length(0),
                true,
            ),
            (
                "HTTP/1.1 304 Not Modified\r\n\r\n",
                false,
                Framing::Length(0),
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
                true,
                Framing::Length(0),
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                false,
                Framing::Chunked,
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                false,
                Framing::Chunked,
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                false,
                Framing::Chunked,
                false,
            ),
            (
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                false,
                Framing::Close,
                false,
            ),
            ("HTTP/1.1 200 OK\r\n\r\n", false, Framing::Close, false),
            (
                "HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n",
                false,
                Framing::Length(7),
                true,
            ),
            (
                "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
                false,
                Framing::Length(1),
                false,
            ),
            (
                "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n",
                false,
                Framing::Length(1),
                false,
            ),
            (
                "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\n",
                false,
                Framing::Length(1),
                true,
            ),
        ];
        for (text, head_request, framing, keep_alive) in cases {
            let parsed = head(text, head_request).unwrap().unwrap();
            assert_eq!(
                (parsed.framing, parsed.keep_alive),
                (framing, keep_alive),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_chunked_head_loses_its_content_length() {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n";
        let parsed = head(text, false).unwrap().unwrap();
        assert!(!parsed.parts.headers.contains_key(header::CONTENT_LENGTH));
        assert_eq!(parsed.parts.headers[header::TRANSFER_ENCODING], "chunked");
    }

    #[test]
    fn persistence_fields_are_read_here_and_not_passed_on() {
        let text = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\n\
                    Content-Length: 0\r\n\r\n";
        let parsed = head(text, false).unwrap().unwrap();
        assert!(parsed.keep_alive);
        assert_eq!(parsed.parts.headers.len(), 1, "only Content-Length");
        assert!(!parsed.parts.headers.contains_key(header::CONNECTION));
        assert!(!parsed.parts.headers.contains_key("keep-alive"));
        // A `Connection` naming another field goes on, so that field is removed
        // downstream; its `close` still counts here.
        let text = "HTTP/1.1 200 OK\r\nConnection: x-secret, close\r\nX-Secret: 1\r\n\
                    Content-Length: 0\r\n\r\n";
        let parsed = head(text, false).unwrap().unwrap();
        assert!(!parsed.keep_alive);
        assert_eq!(parsed.parts.headers[header::CONNECTION], "x-secret, close");
        // `close` alone: read here, not passed on, and the connection not reused.
        let text = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        let parsed = head(text, false).unwrap().unwrap();
        assert!(!parsed.keep_alive);
        assert!(!parsed.parts.headers.contains_key(header::CONNECTION));
    }

    #[test]
    fn invalid_heads_are_errors() {
        let cases = [
            "HTTP/1.1 200 OK\r\nContent-Length: 7, 8\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ];
        for text in cases {
            assert!(
                matches!(head(text, false), Err(HeadError::Invalid(_))),
                "{text:?}"
            );
        }
    }
}
