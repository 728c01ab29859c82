//! The client's request body, counted for the access log when it is on, and what a
//! client gets when reading it failed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::status::ProxyError;

/// The answer to a request whose body could not be read: 408 when the client stopped
/// sending it (the head guard's body deadline), 400 otherwise.
pub(crate) fn failed(error: &(dyn std::error::Error + 'static)) -> ProxyError {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return ProxyError::RequestTimeout("the request body did not arrive in time");
        }
        cause = error.source();
    }
    ProxyError::BadRequest("the request body could not be read from the client")
}

/// A request body as it arrives from the client; the bytes read are added to `read`
/// when given (the access log's request bytes), and nothing is done otherwise.
#[derive(Debug)]
pub(crate) struct ClientBody {
    inner: Incoming,
    read: Option<Arc<AtomicU64>>,
}

impl ClientBody {
    /// `inner`, counted into `read` if given.
    pub(crate) fn new(inner: Incoming, read: Option<Arc<AtomicU64>>) -> Self {
        Self { inner, read }
    }
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let (Some(read), Poll::Ready(Some(Ok(frame)))) = (&this.read, &polled)
            && let Some(data) = frame.data_ref()
        {
            read.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
