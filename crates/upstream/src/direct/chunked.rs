//! The chunked transfer coding of a response body (RFC 9112 §7.1), decoded in
//! place from the connection's read buffer: data chunks come out as slices of it (no
//! copy), trailers as a header map.
//!
//! Strict where leniency has been used for smuggling: a chunk size is hex digits
//! only (at most 16, no sign, no spaces before it), every line ends with CRLF, the
//! CRLF after a chunk's data is required, and a size line or trailer section
//! longer than its limit is an error rather than a longer wait.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Longest chunk-size line, extensions included (hyper allows a few KiB too).
const MAX_SIZE_LINE: usize = 4 * 1024;
/// Largest trailer section: the 64 KiB a response head may have.
const MAX_TRAILERS: usize = 64 * 1024;
/// Most trailer fields.
const MAX_TRAILER_FIELDS: usize = 100;

/// Where the decoder is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At a chunk-size line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer fields, then the empty line.
    Trailers,
    /// The body has ended.
    Done,
}

/// A chunked body being decoded.
#[derive(Debug)]
pub(crate) struct Chunked {
    state: State,
}

/// What one step of decoding gave.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// Bytes of the body.
    Data(Bytes),
    /// The body ended with these trailer fields.
    Trailers(HeaderMap),
    /// The body ended (no trailers).
    Done,
    /// More bytes are needed from the connection.
    More,
}

/// A body that does not follow the chunked coding.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid chunked body: {0}")]
pub(crate) struct ChunkError(&'static str);

impl Chunked {
    /// A decoder at the start of a body.
    pub(crate) fn new() -> Self {
        Self { state: State::Size }
    }

    /// Decodes what it can from the front of `buf`, taking it off.
    pub(crate) fn step(&mut self, buf: &mut BytesMut) -> Result<Step, ChunkError> {
        loop {
            match self.state {
                State::Done => return Ok(Step::Done),
                State::Size => match size_line(buf)? {
                    None => return Ok(Step::More),
                    Some(0) => self.state = State::Trailers,
                    Some(n) => self.state = State::Data(n),
                },
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let rest = left - take as u64;
                    self.state = if rest == 0 {
                        State::DataEnd
                    } else {
                        State::Data(rest)
                    };
                    return Ok(Step::Data(buf.split_to(take).freeze()));
                }
                State::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Step::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(ChunkError("no CRLF after chunk data"));
                    }
                    let _ = buf.split_to(2);
                    self.state = State::Size;
                }
                State::Trailers => {
                    let step = trailers(buf)?;
                    if step != Step::More {
                        self.state = State::Done;
                    }
                    return Ok(step);
                }
            }
        }
    }
}

/// The size on a complete chunk-size line at the front of `buf` (taken off), or
/// `None` when the line has not ended yet.
fn size_line(buf: &mut BytesMut) -> Result<Option<u64>, ChunkError> {
    let Some(end) = find_crlf(buf, MAX_SIZE_LINE)? else {
        return Ok(None);
    };
    let line = &buf[..end];
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(ChunkError("chunk size is not hex"));
    }
    if digits > 16 {
        return Err(ChunkError("chunk size too large"));
    }
    let rest = &line[digits..];
    // Extensions (ignored), after optional whitespace: `; name[=value]`.
    let ext = rest.trim_ascii_start();
    if !ext.is_empty() && (ext[0] != b';' || ext.iter().any(|&b| b < b' ' && b != b'\t')) {
        return Err(ChunkError("invalid chunk extension"));
    }
    let mut size = 0u64;
    for &d in &line[..digits] {
        let v = (d as char).to_digit(16).unwrap_or(0);
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(v)))
            .ok_or(ChunkError("chunk size too large"))?;
    }
    let _ = buf.split_to(end + 2);
    Ok(Some(size))
}

/// The position of the first CRLF in `buf`, if within `limit` bytes. A bare CR or
/// LF before it is an error.
fn find_crlf(buf: &[u8], limit: usize) -> Result<Option<usize>, ChunkError> {
    let Some(at) = buf.iter().take(limit + 1).position(|&b| b == b'\n') else {
        if buf.len() > limit {
            return Err(ChunkError("chunk-size line too long"));
        }
        return Ok(None);
    };
    if at == 0 || buf[at - 1] != b'\r' {
        return Err(ChunkError("bare LF"));
    }
    if buf[..at - 1].contains(&b'\r') {
        return Err(ChunkError("bare CR"));
    }
    Ok(Some(at - 1))
}

/// The trailer section at the front of `buf`, through its empty line.
fn trailers(buf: &mut BytesMut) -> Result<Step, ChunkError> {
    if buf.len() < 2 {
        return Ok(Step::More);
    }
    if &buf[..2] == b"\r\n" {
        let _ = buf.split_to(2);
        return Ok(Step::Done);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
    let (len, map) = match httparse::parse_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete((len, fields))) => (len, trailer_map(fields)?),
        Ok(httparse::Status::Partial) if buf.len() > MAX_TRAILERS => {
            return Err(ChunkError("trailers too large"));
        }
        Ok(httparse::Status::Partial) => return Ok(Step::More),
        Err(_) => return Err(ChunkError("invalid trailer field")),
    };
    let _ = buf.split_to(len);
    Ok(Step::Trailers(map))
}

fn trailer_map(fields: &[httparse::Header<'_>]) -> Result<HeaderMap, ChunkError> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| ChunkError("invalid trailer name"))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| ChunkError("invalid trailer value"))?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Decodes `input` fed in pieces of `piece` bytes: the data, the trailers, and
    /// whether it ended.
    fn decode(
        input: &[u8],
        piece: usize,
    ) -> Result<(Vec<u8>, Option<HeaderMap>, bool), ChunkError> {
        let mut decoder = Chunked::new();
        let mut buf = BytesMut::new();
        let (mut data, mut trailers) = (Vec::new(), None);
        let mut fed = 0;
        loop {
            match decoder.step(&mut buf)? {
                Step::Data(bytes) => data.extend_from_slice(&bytes),
                Step::Trailers(map) => trailers = Some(map),
                Step::Done => return Ok((data, trailers, true)),
                Step::More if fed >= input.len() => return Ok((data, trailers, false)),
                Step::More => {
                    let end = (fed + piece).min(input.len());
                    buf.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn chunks_decode_whole_or_a_byte_at_a_time() {
        let body = b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
        for piece in [1, 2, 3, 7, body.len()] {
            let (data, trailers, done) = decode(body, piece).unwrap();
            assert_eq!(data, b"hello, world", "piece {piece}");
            assert!(trailers.is_none() && done, "piece {piece}");
        }
    }

    #[test]
    fn trailers_come_out_as_a_map() {
        let body = b"3\r\nabc\r\n0\r\ngrpc-status: 0\r\nx-sum: 1\r\n\r\n";
        for piece in [1, 5, body.len()] {
            let (data, trailers, done) = decode(body, piece).unwrap();
            assert_eq!(data, b"abc");
            let trailers = trailers.unwrap();
            assert_eq!(trailers["grpc-status"], "0");
            assert_eq!(trailers["x-sum"], "1");
            assert!(done);
        }
    }

    #[test]
    fn upper_case_hex_and_large_sizes_parse() {
        let mut buf = BytesMut::from(&b"1A\r\n"[..]);
        assert_eq!(size_line(&mut buf).unwrap(), Some(26));
        let mut buf = BytesMut::from(&b"ffffffffffffffff\r\n"[..]);
        assert_eq!(size_line(&mut buf).unwrap(), Some(u64::MAX));
    }

    #[test]
    fn smuggling_shapes_are_refused() {
        let cases: [(&[u8], &str); 8] = [
            (b"-5\r\nhello\r\n0\r\n\r\n", "chunk size is not hex"),
            (b" 5\r\nhello\r\n0\r\n\r\n", "chunk size is not hex"),
            (b"5\nhello\r\n0\r\n\r\n", "bare LF"),
            (b"5\r\nhelloXX0\r\n\r\n", "no CRLF after chunk data"),
            (b"10000000000000000\r\n", "chunk size too large"),
            (b"5 x\r\nhello\r\n0\r\n\r\n", "invalid chunk extension"),
            (b"5\r5\r\nhello\r\n0\r\n\r\n", "bare CR"),
            (b"0\r\nbad field\r\n\r\n", "invalid trailer field"),
        ];
        for (input, why) in cases {
            let error = decode(input, input.len()).unwrap_err();
            assert_eq!(
                error,
                ChunkError(why),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn an_endless_size_line_is_cut() {
        let long = vec![b'0'; MAX_SIZE_LINE + 10];
        assert_eq!(
            decode(&long, long.len()).unwrap_err(),
            ChunkError("chunk-size line too long")
        );
    }

    #[test]
    fn a_body_cut_short_is_not_done() {
        let (data, _, done) = decode(b"5\r\nhel", 64).unwrap();
        assert_eq!(data, b"hel");
        assert!(!done);
    }
}
