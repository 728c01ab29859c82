//! Finds where a chunked request body ends, without decoding it: the states of hyper
//! 1's chunked decoder (`proto/h1/decode.rs`), byte for byte, so the end found here is
//! the end hyper finds. hyper decodes the body; this only has to agree on its length.

/// Bytes of chunk extensions hyper accepts in one body (its `CHUNKED_EXTENSIONS_LIMIT`).
const MAX_EXTENSION_BYTES: u64 = 16 * 1024;

/// Where the scan stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The first hex digit of a chunk size.
    Start,
    /// More hex digits, or what ends the size.
    Size,
    /// Whitespace after the size.
    SizeLws,
    /// A chunk extension, up to CR.
    Extension,
    /// The LF ending the size line.
    SizeLf,
    /// Chunk data, this many bytes left.
    Data(u64),
    /// The CR, then the LF, after chunk data.
    DataCr,
    DataLf,
    /// After the last chunk's size line: CR (end) or a trailer field.
    EndCr,
    /// The LF of the final CRLF.
    EndLf,
    /// A trailer field, up to CR; then its LF.
    Trailer,
    TrailerLf,
}

/// How far a slice took the scan.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scanned {
    /// All of it is body; the body goes on.
    More,
    /// The body ended after this many bytes of the slice.
    End(usize),
    /// Not a chunked body hyper accepts: hyper fails the request and closes the
    /// connection, so nothing after it is a head.
    Invalid,
}

/// The scan of one chunked body.
#[derive(Clone, Debug)]
pub(crate) struct ChunkScan {
    state: State,
    size: u64,
    extension_bytes: u64,
}

impl ChunkScan {
    /// At the start of a body.
    pub(crate) fn new() -> Self {
        Self {
            state: State::Start,
            size: 0,
            extension_bytes: 0,
        }
    }

    /// Reads `bytes`, the next bytes of the body.
    pub(crate) fn scan(&mut self, bytes: &[u8]) -> Scanned {
        let mut at = 0;
        while at < bytes.len() {
            if let State::Data(left) = self.state {
                let take = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - at);
                at += take;
                let left = left - take as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data(left)
                };
                continue;
            }
            let Some(next) = self.step(bytes[at]) else {
                return Scanned::Invalid;
            };
            at += 1;
            match next {
                Some(state) => self.state = state,
                None => return Scanned::End(at),
            }
        }
        Scanned::More
    }

    /// One byte outside chunk data: `Some(Some(state))` goes on, `Some(None)` ends the
    /// body, `None` is invalid.
    fn step(&mut self, byte: u8) -> Option<Option<State>> {
        use State::*;
        let next = match (self.state, byte) {
            (Start, b) => {
                self.size = hex(b)?.into();
                Size
            }
            (Size, b'\t' | b' ') => SizeLws,
            (Size | SizeLws, b';') => Extension,
            (Size | SizeLws, b'\r') | (Extension, b'\r') => SizeLf,
            (Size, b) => {
                self.size = self.size.checked_mul(16)?.checked_add(hex(b)?.into())?;
                Size
            }
            (SizeLws, b'\t' | b' ') => SizeLws,
            (SizeLws, _) | (Extension, b'\n') => return None,
            (Extension, _) => {
                self.extension_bytes += 1;
                if self.extension_bytes >= MAX_EXTENSION_BYTES {
                    return None;
                }
                Extension
            }
            (SizeLf, b'\n') if self.size == 0 => EndCr,
            (SizeLf, b'\n') => Data(self.size),
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => Start,
            (EndCr, b'\r') => EndLf,
            (EndCr, _) | (Trailer, _) if byte != b'\r' => Trailer,
            (Trailer, b'\r') => TrailerLf,
            (TrailerLf, b'\n') => EndCr,
            (EndLf, b'\n') => return Some(None),
            _ => return None,
        };
        Some(Some(next))
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the body in `bytes` ends, fed in pieces of `piece` bytes.
    fn end_in_pieces(bytes: &[u8], piece: usize) -> Option<usize> {
        let mut scan = ChunkScan::new();
        for (i, part) in bytes.chunks(piece).enumerate() {
            match scan.scan(part) {
                Scanned::More => {}
                Scanned::End(n) => return Some(i * piece + n),
                Scanned::Invalid => return None,
            }
        }
        None
    }

    #[test]
    fn finds_the_end_however_the_bytes_are_split() {
        let body = b"5\r\nhello\r\n1A;name=\"v\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0 \r\nX-T: 1\r\nY: 2\r\n\r\nGET /next";
        let end = body.len() - b"GET /next".len();
        for piece in 1..=body.len() {
            assert_eq!(end_in_pieces(body, piece), Some(end), "pieces of {piece}");
        }
        assert_eq!(end_in_pieces(b"0\r\n\r\n", 64), Some(5));
    }

    #[test]
    fn refuses_what_hyper_refuses() {
        for bad in [
            &b"x\r\n"[..],
            b"5 5\r\n",
            b"5\n",
            b"5;a\nb\r\n",
            b"5\r\nhelloX",
            b"0\r\n\r\r",
            b"0\r\nX: 1\rZ",
            b"fffffffffffffffff\r\n",
        ] {
            assert_eq!(ChunkScan::new().scan(bad), Scanned::Invalid, "{bad:?}");
        }
        let mut long = b"1;".to_vec();
        long.extend(std::iter::repeat_n(b'e', MAX_EXTENSION_BYTES as usize));
        assert_eq!(ChunkScan::new().scan(&long), Scanned::Invalid);
    }
}
