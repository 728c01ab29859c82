//! The client's request body, counted for the access log when it is on, and what a
//! client gets when reading it failed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::status::ProxyError;

/// The answer to a request whose body could not be read: 413 past `max_request_body`,
/// 408 when the client stopped sending it (the head guard's body deadline), 499 when
/// it went away (closed or reset its connection, or reset its HTTP/2 stream: counted
/// as `client_closed`, not as a bad request), 400 otherwise (bad framing).
pub(crate) fn failed(error: &(dyn std::error::Error + 'static)) -> ProxyError {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(BodyError::TooLarge(_)) = error.downcast_ref::<BodyError>() {
            return too_large();
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return ProxyError::RequestTimeout("the request body did not arrive in time");
        }
        if went_away(error) {
            return ProxyError::ClientClosed;
        }
        cause = error.source();
    }
    ProxyError::BadRequest("the request body could not be read from the client")
}

/// Whether `error` (one link of a chain) says the client went away before its body
/// ended, rather than sent something wrong.
fn went_away(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    if let Some(hyper) = error.downcast_ref::<hyper::Error>() {
        // "connection closed before message completed"
        return hyper.is_incomplete_message();
    }
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        return matches!(
            io.kind(),
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
        );
    }
    if let Some(h2) = error.downcast_ref::<h2::Error>() {
        return h2.is_remote() && (h2.is_reset() || h2.is_go_away());
    }
    false
}

/// The answer to a body larger than the listener accepts.
pub(crate) fn too_large() -> ProxyError {
    ProxyError::PayloadTooLarge("request body larger than the listener accepts")
}

/// Why a request body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The client's stream failed (closed, reset, timed out) or its framing did.
    #[error(transparent)]
    Client(#[from] hyper::Error),
    /// It grew past the listener's `max_request_body`.
    #[error("request body larger than {0} bytes (max_request_body)")]
    TooLarge(u64),
}

/// A request's body as its server hands it on: hyper's, or none at all (a request
/// the in-task HTTP/1 server read, [`crate::h1_server`], has no body).
#[derive(Debug)]
pub(crate) enum FromClient {
    /// Read by hyper's HTTP/1 or HTTP/2 server. Boxed: inline it would take a request
    /// past the 256 bytes `memcpy` moves without a loop, for every request in and out
    /// of each layer (the box is made only for a body that is there: [`Self::hyper`]).
    Hyper(Box<Incoming>),
    /// No body.
    Empty,
}

impl FromClient {
    /// The body hyper's server read with a request's head: none when it has already
    /// ended (no `Content-Length` or `0`, HTTP/2 `END_STREAM` on the head).
    pub(crate) fn hyper(body: Incoming) -> Self {
        if body.is_end_stream() {
            FromClient::Empty
        } else {
            FromClient::Hyper(Box::new(body))
        }
    }
}

impl Body for FromClient {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            FromClient::Hyper(body) => Pin::new(&mut **body).poll_frame(cx),
            FromClient::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            FromClient::Hyper(body) => body.is_end_stream(),
            FromClient::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            FromClient::Hyper(body) => body.size_hint(),
            FromClient::Empty => SizeHint::with_exact(0),
        }
    }
}

/// A request body as it arrives from the client; the bytes read are added to `read`
/// when given (the access log's request bytes), and a body longer than `limit` fails
/// with [`BodyError::TooLarge`] at the frame that passes it (a body whose
/// `Content-Length` says so is refused before it is read, in `proxy.rs`).
#[derive(Debug)]
pub(crate) struct ClientBody {
    inner: FromClient,
    read: Option<Arc<AtomicU64>>,
    /// [`NO_LIMIT`] when there is none (not an `Option`: 8 bytes fewer in every
    /// request, see [`FromClient::Hyper`]).
    limit: u64,
    seen: u64,
}

/// A body without a size limit.
const NO_LIMIT: u64 = u64::MAX;

impl ClientBody {
    /// `inner`, counted into `read` if given, failing past `limit` bytes if given.
    pub(crate) fn new(inner: FromClient, read: Option<Arc<AtomicU64>>, limit: Option<u64>) -> Self {
        Self {
            inner,
            read,
            limit: limit.unwrap_or(NO_LIMIT),
            seen: 0,
        }
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let polled = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &polled
            && let Some(data) = frame.data_ref()
        {
            let len = data.len() as u64;
            this.seen += len;
            if this.seen > this.limit {
                return Poll::Ready(Some(Err(BodyError::TooLarge(this.limit))));
            }
            if let Some(read) = &this.read {
                read.fetch_add(len, Ordering::Relaxed);
            }
        }
        Poll::Ready(polled.map(|frame| frame.map_err(BodyError::Client)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
