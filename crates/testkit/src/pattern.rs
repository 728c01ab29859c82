//! Large bodies that are generated, never held whole, and their digests: byte `i` of a
//! pattern body is `i % 251` (a prime, so the pattern does not line up with chunk or
//! buffer sizes and a dropped, repeated or reordered chunk changes the digest).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use sha2::{Digest as _, Sha256};

use crate::backend::Counters;

/// Size of each generated chunk: a typical socket buffer size.
pub const CHUNK: usize = 64 * 1024;

/// The pattern's modulus.
const MODULUS: u64 = 251;

/// The `len` bytes of the pattern starting at `offset`.
pub(crate) fn chunk(offset: u64, len: usize) -> Bytes {
    (offset..offset + len as u64)
        .map(|i| (i % MODULUS) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// A body of `len` pattern bytes, produced in [`CHUNK`]-sized pieces on demand.
#[derive(Debug)]
pub struct PatternBody {
    sent: u64,
    len: u64,
    sized: bool,
    /// Where each chunk made is counted, if anywhere.
    counted: Option<Arc<Counters>>,
}

impl PatternBody {
    /// A body whose length is announced (`Content-Length`).
    pub fn sized(len: u64) -> Self {
        Self {
            sent: 0,
            len,
            sized: true,
            counted: None,
        }
    }

    /// A body whose length is not announced, so HTTP/1.1 sends it chunked.
    pub fn chunked(len: u64) -> Self {
        Self {
            sent: 0,
            len,
            sized: false,
            counted: None,
        }
    }
}

impl PatternBody {
    /// The same body, counting each chunk it makes in `counters`.
    pub(crate) fn counted_in(mut self, counters: Arc<Counters>) -> Self {
        self.counted = Some(counters);
        self
    }
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let left = this.len - this.sent;
        if left == 0 {
            return Poll::Ready(None);
        }
        let len = usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK));
        let data = chunk(this.sent, len);
        this.sent += len as u64;
        if let Some(counters) = &this.counted {
            counters.generated(len as u64);
        }
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent == self.len
    }

    fn size_hint(&self) -> SizeHint {
        if self.sized {
            SizeHint::with_exact(self.len - self.sent)
        } else {
            SizeHint::default()
        }
    }
}

/// A running SHA-256 and byte count of a streamed body.
#[derive(Debug, Default)]
pub struct Digest {
    sha: Sha256,
    bytes: u64,
}

impl Digest {
    /// Adds the next piece of the stream.
    pub fn update(&mut self, data: &[u8]) {
        self.sha.update(data);
        self.bytes += data.len() as u64;
    }

    /// `sha256=<64 hex digits> bytes=<count>`: the sink backend's answer format.
    pub fn finish(self) -> String {
        let mut text = String::from("sha256=");
        for byte in self.sha.finalize() {
            let _ = write!(text, "{byte:02x}");
        }
        let _ = write!(text, " bytes={}", self.bytes);
        text
    }
}

/// The digest ([`Digest::finish`] format) of the first `len` pattern bytes.
pub fn pattern_digest(len: u64) -> String {
    let mut digest = Digest::default();
    let mut offset = 0;
    while offset < len {
        let n = usize::try_from(len - offset).map_or(CHUNK, |left| left.min(CHUNK));
        digest.update(&chunk(offset, n));
        offset += n as u64;
    }
    digest.finish()
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn body_matches_digest_and_size() {
        let len = 3 * CHUNK as u64 + 17;
        let body = PatternBody::sized(len);
        assert_eq!(body.size_hint().exact(), Some(len));
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len() as u64, len);
        assert_eq!(bytes[251], 0);
        assert_eq!(bytes[252], 1);
        let mut digest = Digest::default();
        digest.update(&bytes);
        assert_eq!(digest.finish(), pattern_digest(len));
        assert_eq!(PatternBody::chunked(len).size_hint().exact(), None);
    }

    #[test]
    fn empty_digest_is_sha256_of_nothing() {
        assert_eq!(
            pattern_digest(0),
            "sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 bytes=0"
        );
    }
}
