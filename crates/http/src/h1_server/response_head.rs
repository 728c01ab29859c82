//! The response head the in-task server writes, and how the body after it is
//! delimited: hyper 1's server rules (`proto/h1/role.rs`, `Server::encode`), so a
//! client sees the same bytes whichever server answered it.
//!
//! - Status line: `HTTP/1.0` to an HTTP/1.0 request, else `HTTP/1.1`; the reason
//!   from hyper's `ReasonPhrase` extension when the backend sent its own, else the
//!   canonical one (`<none>` for a code without one).
//! - Fields: the map's, in order, lower case, one line per value (`Connection`'s
//!   values joined on one line); then the connection's own `Connection` token (below),
//!   the framing field hyper would add, and `date` when the map has none.
//! - Framing: a body that has ended gets `content-length: 0` (none on `HEAD`, 1xx, 204,
//!   304); a body of known size `content-length: N` (none on 1xx, 204, 304; a
//!   `Content-Length` of the map is written as it is instead); a body of unknown size
//!   the map's `Content-Length`, else `transfer-encoding: chunked` to HTTP/1.1, else
//!   (HTTP/1.0) the end of the connection. `HEAD`, 1xx, 204 and 304 never carry a body.
//! - `Connection`: `keep-alive` to an HTTP/1.0 client whose connection is kept;
//!   `close` to an HTTP/1.1 client whose connection is not (it asked, or the listener
//!   drains); a map's `Connection: close` ends the connection after the response.
//!   (Unlike hyper, a body delimited by the end of the connection is never announced
//!   as kept alive.)

use http::response::Parts;
use http::{HeaderValue, StatusCode, header};
use hyper::body::SizeHint;

use super::date;

/// How the body after a head is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body is written (`HEAD`, 1xx, 204, 304, or an empty one).
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
    /// Until the connection closes (HTTP/1.0, size unknown).
    Close,
}

/// What the request and the connection ask of a response.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Asked {
    /// It answers a `HEAD`.
    pub(crate) head: bool,
    /// The request was HTTP/1.0.
    pub(crate) http10: bool,
    /// The connection is to be kept after it (the client wants it kept and the
    /// listener is not draining).
    pub(crate) keep_alive: bool,
}

/// A head written: its body's framing, and whether the connection is kept after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) framing: Framing,
    pub(crate) keep_alive: bool,
}

/// A map's `Content-Length` that cannot delimit the body (hyper writes nothing then,
/// and closes the connection).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct InvalidLength;

/// Appends the head of `parts` to `out` and says how its body (`ended`, of size
/// `hint`) goes after it.
pub(crate) fn encode(
    parts: &Parts,
    (ended, hint): (bool, SizeHint),
    asked: Asked,
    out: &mut Vec<u8>,
) -> Result<Written, InvalidLength> {
    let status = parts.status;
    let bodiless = asked.head || status.is_informational() || no_content(status);
    let noted = Noted::of(parts);
    let given = noted.length;
    let size = if ended { Some(0) } else { hint.exact() };
    // Which length field goes out: the map's as it is (`true`), or one written here.
    let (framing, write_given, implicit) = match (size, given) {
        (Some(0), None) => (Framing::Empty, false, (!bodiless).then_some(0)),
        // An ended body (not a `HEAD`'s) gets hyper's own zero, not the map's value.
        (Some(0), Some(_)) if ended && !asked.head => {
            (Framing::Empty, false, (!bodiless).then_some(0))
        }
        (Some(n), Some(_)) => (Framing::Length(n), true, None),
        (Some(n), None) => (
            Framing::Length(n),
            false,
            (!has_no_length(status)).then_some(n),
        ),
        (None, Some(value)) => (Framing::Length(length(value)?), true, None),
        (None, None) if bodiless => (Framing::Empty, false, None),
        (None, None) if asked.http10 => (Framing::Close, false, None),
        (None, None) => (Framing::Chunked, false, None),
    };
    let framing = match framing {
        _ if bodiless => Framing::Empty,
        Framing::Length(0) => Framing::Empty,
        framing => framing,
    };
    status_line(parts, asked.http10, out);
    let closes = fields(parts, write_given, out);
    let keep_alive = asked.keep_alive && !closes && framing != Framing::Close;
    connection(parts, noted.connection, (asked, keep_alive), out);
    match implicit {
        Some(n) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(itoa(n, &mut [0; 20]));
            out.extend_from_slice(b"\r\n");
        }
        None if framing == Framing::Chunked => {
            out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        None => {}
    }
    if !noted.date {
        date::append(out);
    }
    out.extend_from_slice(b"\r\n");
    Ok(Written {
        framing,
        keep_alive,
    })
}

/// What the head needs of the map's fields, noted in one pass (three hashed
/// lookups cost more).
#[derive(Debug, Default)]
struct Noted<'a> {
    /// The first `Content-Length`.
    length: Option<&'a HeaderValue>,
    date: bool,
    connection: bool,
}

impl<'a> Noted<'a> {
    fn of(parts: &'a Parts) -> Self {
        let mut noted = Self::default();
        for (name, value) in &parts.headers {
            if name == header::CONTENT_LENGTH {
                noted.length = noted.length.or(Some(value));
            } else if name == header::DATE {
                noted.date = true;
            } else if name == header::CONNECTION {
                noted.connection = true;
            }
        }
        noted
    }
}

/// 204 and 304: never a body.
fn no_content(status: StatusCode) -> bool {
    status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED
}

/// 1xx, 204 and 304 carry no `Content-Length` hyper would add.
fn has_no_length(status: StatusCode) -> bool {
    status.is_informational() || no_content(status)
}

/// A map's `Content-Length` as the length of a body of unknown size.
/// Plain digits only, as hyper reads it (no sign, no spaces).
fn length(value: &HeaderValue) -> Result<u64, InvalidLength> {
    let digits = value.as_bytes();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(InvalidLength);
    }
    let text = std::str::from_utf8(digits).map_err(|_| InvalidLength)?;
    text.parse().map_err(|_| InvalidLength)
}

fn status_line(parts: &Parts, http10: bool, out: &mut Vec<u8>) {
    let status = parts.status;
    let reason = parts.extensions.get::<hyper::ext::ReasonPhrase>();
    if !http10 && status == StatusCode::OK && reason.is_none() {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.extend_from_slice(if http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    match reason {
        Some(reason) => out.extend_from_slice(reason.as_bytes()),
        None => {
            let canonical = status.canonical_reason().unwrap_or("<none>");
            out.extend_from_slice(canonical.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes the map's fields but `Connection` (written by [`connection`]), and its
/// `Content-Length` only when `write_length` (its first value); whether the map's
/// `Connection` says `close`.
fn fields(parts: &Parts, write_length: bool, out: &mut Vec<u8>) -> bool {
    let mut closes = false;
    let mut wrote_length = false;
    for (name, value) in &parts.headers {
        if name == header::CONNECTION {
            closes |= has_token(value.as_bytes(), b"close");
            continue;
        }
        if name == header::CONTENT_LENGTH {
            if !write_length || wrote_length {
                continue;
            }
            wrote_length = true;
        }
        if name == header::TRANSFER_ENCODING {
            continue; // The framing is written here.
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    closes
}

/// Writes `Connection`: the map's values on one line, with the connection's own
/// token added when the map does not say it already.
fn connection(parts: &Parts, given: bool, (asked, keep_alive): (Asked, bool), out: &mut Vec<u8>) {
    let (mut says_close, mut says_keep_alive) = (false, false);
    if given {
        out.extend_from_slice(b"connection: ");
        let values = parts.headers.get_all(header::CONNECTION);
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(value.as_bytes());
            says_close |= has_token(value.as_bytes(), b"close");
            says_keep_alive |= has_token(value.as_bytes(), b"keep-alive");
        }
    }
    let own: Option<&[u8]> = match (asked.http10, keep_alive) {
        (true, true) if !says_keep_alive => Some(b"keep-alive"),
        (false, false) if !says_close => Some(b"close"),
        _ => None,
    };
    match (given, own) {
        (true, Some(token)) => {
            out.extend_from_slice(b", ");
            out.extend_from_slice(token);
            out.extend_from_slice(b"\r\n");
        }
        (true, None) => out.extend_from_slice(b"\r\n"),
        (false, Some(token)) => {
            out.extend_from_slice(b"connection: ");
            out.extend_from_slice(token);
            out.extend_from_slice(b"\r\n");
        }
        (false, None) => {}
    }
}

/// Whether a comma-separated `value` lists `token` (any case).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// `n` in decimal, written into the end of `buf`.
fn itoa(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

#[cfg(test)]
#[path = "response_head_tests.rs"]
mod tests;
