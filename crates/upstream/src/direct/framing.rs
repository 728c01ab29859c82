//! How a response body is delimited (RFC 9112 §6.3) and whether its connection may
//! carry another request, from the framing fields of the head (`Content-Length`,
//! `Transfer-Encoding`, `Connection`) as the parser meets them: no lookups in the
//! built map, no text conversions, which cost the in-task client more than the
//! rest of the head did.

use http::{HeaderName, StatusCode, Version, header};

use super::response_head::HeadError;

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// Exactly this many bytes (0: none: a `HEAD`'s, a 204's or 304's).
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Until the backend closes the connection.
    Close,
}

/// What the framing rules need of a head's fields.
#[derive(Debug, Default)]
pub(crate) struct Noted {
    /// `Content-Length`: every value given, all equal, or `Err` when one is invalid
    /// or they disagree.
    length: Option<Result<u64, ()>>,
    /// `Transfer-Encoding` present, and whether its last coding is `chunked`.
    coding: Option<bool>,
    /// `chunked` codings over every `Transfer-Encoding` line ([`chunked_codings`]).
    chunked_codings: u32,
    close: bool,
    keep_alive: bool,
}

impl Noted {
    /// Notes field `name` with `value`, if it is one of the framing fields. True
    /// when the field describes this connection alone and is fully read here, so it
    /// need not go on: a `Connection` that says only `keep-alive` or `close` (what
    /// it says is in [`Self::persists`]) and `Keep-Alive`. Both are hop-by-hop
    /// (RFC 9110 §7.6.1), which the http crate would remove from the map again for
    /// ~640 instructions a response (callgrind); a `Connection` that names any other
    /// field is kept, so that field is removed there too.
    pub(crate) fn note(&mut self, name: &HeaderName, value: &[u8]) -> bool {
        if name == header::CONNECTION {
            let mut only_persistence = true;
            for token in tokens(value) {
                let close = token.eq_ignore_ascii_case(b"close");
                let keep_alive = token.eq_ignore_ascii_case(b"keep-alive");
                self.close |= close;
                self.keep_alive |= keep_alive;
                only_persistence &= close || keep_alive;
            }
            return only_persistence;
        }
        if name.as_str() == "keep-alive" {
            return true;
        }
        self.note_framing(name, value);
        false
    }

    fn note_framing(&mut self, name: &HeaderName, value: &[u8]) {
        if name == header::CONTENT_LENGTH {
            self.length = Some(match (self.length, lengths(value)) {
                (None, n) => n,
                (Some(Ok(seen)), Ok(n)) if seen == n => Ok(n),
                _ => Err(()),
            });
        } else if name == header::TRANSFER_ENCODING {
            let last = tokens(value).next_back();
            self.coding = Some(last.is_some_and(|t| t.eq_ignore_ascii_case(b"chunked")));
            self.chunked_codings = self.chunked_codings.saturating_add(chunked_codings(value));
        }
    }

    /// Whether the head had a `Content-Length`.
    pub(crate) fn has_length(&self) -> bool {
        self.length.is_some()
    }

    /// How the body is delimited, and whether the framing leaves the connection
    /// reusable: a `Transfer-Encoding` with a `Content-Length` (a smuggling shape)
    /// or a body delimited by the close does not. `head_request`: the response to a
    /// `HEAD`, which has no body whatever its fields say.
    pub(crate) fn framing(
        &self,
        status: StatusCode,
        head_request: bool,
    ) -> Result<(Framing, bool), HeadError> {
        // Whatever the status: hyper's client gets the same check (`pool.rs`).
        if self.chunked_codings > 1 {
            return Err(HeadError::Invalid(CHUNKED_TWICE));
        }
        if head_request
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok((Framing::Length(0), true));
        }
        match (self.coding, self.length) {
            (Some(true), length) => Ok((Framing::Chunked, length.is_none())),
            (Some(false), _) => Ok((Framing::Close, false)),
            (None, Some(Ok(n))) => Ok((Framing::Length(n), true)),
            (None, Some(Err(()))) => Err(HeadError::Invalid("Content-Length")),
            (None, None) => Ok((Framing::Close, false)),
        }
    }

    /// Whether the connection persists by the version and `Connection`: HTTP/1.1
    /// unless `close`, HTTP/1.0 only with `keep-alive`.
    pub(crate) fn persists(&self, version: Version) -> bool {
        match version {
            Version::HTTP_10 => self.keep_alive && !self.close,
            _ => !self.close,
        }
    }
}

/// Why an answer with more than one `chunked` coding is refused.
pub(crate) const CHUNKED_TWICE: &str = "chunked applied more than once";

/// How many of a `Transfer-Encoding` value's codings are `chunked`. More than one
/// over a head's `Transfer-Encoding` lines is an invalid answer (RFC 9112 §6.1: a
/// sender must not apply it twice), for the in-task client here and for hyper's,
/// which reads only the last coding (`pool.rs`).
pub(crate) fn chunked_codings(value: &[u8]) -> u32 {
    let count = tokens(value)
        .filter(|t| t.eq_ignore_ascii_case(b"chunked"))
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The comma-separated tokens of a field value, without the spaces around them.
fn tokens(value: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// The length a `Content-Length` value gives: digits, or a list of equal ones
/// (`7, 7`, as RFC 9110 §8.6 allows a recipient to accept).
fn lengths(value: &[u8]) -> Result<u64, ()> {
    let mut length = None;
    for part in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(());
        }
        let n = part.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        });
        match (n, length) {
            (None, _) => return Err(()),
            (Some(n), Some(seen)) if n != seen => return Err(()),
            (Some(n), _) => length = Some(n),
        }
    }
    length.ok_or(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_lengths_parse_strictly() {
        assert_eq!(lengths(b"0"), Ok(0));
        assert_eq!(lengths(b"7, 7"), Ok(7));
        assert_eq!(lengths(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b""[..],
            b"+1",
            b"-1",
            b"1 2",
            b"7, 8",
            b"18446744073709551616",
            b"0x10",
        ] {
            assert_eq!(lengths(bad), Err(()), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn chunked_applied_twice_is_invalid_on_one_line_or_two() {
        let framing = |lines: &[&[u8]]| {
            let mut noted = Noted::default();
            for line in lines {
                noted.note(&header::TRANSFER_ENCODING, line);
            }
            noted.framing(StatusCode::OK, false).map(|(f, _)| f)
        };
        assert_eq!(framing(&[b"gzip, Chunked"]), Ok(Framing::Chunked));
        assert_eq!(framing(&[b"chunked", b"gzip"]), Ok(Framing::Close));
        let twice = Err(HeadError::Invalid(CHUNKED_TWICE));
        assert_eq!(framing(&[b"chunked, chunked"]), twice);
        assert_eq!(framing(&[b"chunked", b"CHUNKED"]), twice);
        assert_eq!(framing(&[b"chunked, gzip, chunked"]), twice);
        // Also on an answer without a body, as hyper's client sees it.
        let mut noted = Noted::default();
        noted.note(&header::TRANSFER_ENCODING, b"chunked, chunked");
        let bodiless = noted.framing(StatusCode::NO_CONTENT, true).map(|(f, _)| f);
        assert_eq!(bodiless, twice);
    }

    #[test]
    fn connection_tokens_are_found_in_lists_and_any_case() {
        let mut noted = Noted::default();
        noted.note(&header::CONNECTION, b"Upgrade, CLOSE");
        assert!(!noted.persists(Version::HTTP_11));
        let mut noted = Noted::default();
        noted.note(&header::CONNECTION, b" Keep-Alive ");
        assert!(noted.persists(Version::HTTP_10));
        assert!(!Noted::default().persists(Version::HTTP_10));
    }
}
