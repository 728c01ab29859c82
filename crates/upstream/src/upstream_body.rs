//! The body of a backend's response, whichever client read its head: hyper's
//! (`Incoming`: HTTP/2, requests with a body, upgrades) or the in-task HTTP/1.1
//! client's ([`DirectBody`]); either way each wait for its next bytes is bounded once
//! [`UpstreamBody::bound`] has named the cluster's timeout (`body_stall.rs`).

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use sluicegate_metrics::{BodyErrorReason, BodyErrors};
use sluicegate_runtime::LazyTimer;

use crate::body_stall::BodyStall;
use crate::direct::DirectBody;

/// An error reading a response body.
pub type BodyError = Box<dyn StdError + Send + Sync>;

/// A backend's response body.
#[derive(Debug)]
pub enum UpstreamBody {
    /// Read by hyper's client. Boxed with its stall bound and timer, which the
    /// in-task client's body keeps in its connection instead: inline they would make
    /// every response larger, the in-task client's too.
    Hyper(Box<HyperBody>),
    /// Read by the in-task client.
    Direct(DirectBody),
}

/// A body read by hyper's client, with the bound on its waits for bytes.
#[derive(Debug)]
pub struct HyperBody {
    body: Incoming,
    stall: BodyStall,
    timer: LazyTimer,
    /// Where a failure is counted (its backend's counters).
    errors: Arc<BodyErrors>,
    /// The failure, held back for one poll (see `poll_frame`).
    failed: Option<BodyError>,
}

impl UpstreamBody {
    /// A body read by hyper's client, unbounded until [`UpstreamBody::bound`], its
    /// failure counted in `errors`.
    pub(crate) fn hyper(body: Incoming, errors: Arc<BodyErrors>) -> Self {
        UpstreamBody::Hyper(Box::new(HyperBody {
            body,
            stall: BodyStall::default(),
            timer: LazyTimer::default(),
            errors,
            failed: None,
        }))
    }

    /// The same body, each wait for its next bytes bounded by `timeout` (the
    /// cluster's `response_body_timeout`); past it the body fails with a
    /// `TimedOut` error and its backend connection (or stream) is closed.
    pub fn bound(mut self, timeout: Duration) -> Self {
        match &mut self {
            UpstreamBody::Hyper(body) => body.stall = BodyStall::new(timeout),
            UpstreamBody::Direct(body) => body.bound(timeout),
        }
        self
    }
}

impl Body for HyperBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(error) = this.failed.take() {
            return Poll::Ready(Some(Err(error)));
        }
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Err(error))) => {
                this.errors.count(reason(&error));
                // Not yet: hyper's HTTP/1 server, which serves the requests that
                // come with a body (and so the bodies hyper's client reads), drops
                // the bytes it has buffered when a body fails, so it gets one
                // `Pending` first, which it spends flushing what it was given
                // (BE-05: every byte the backend sent reaches the client; without
                // it `tests/truncated_bodies.rs` lost the last chunk about once in
                // eight runs). Kept here, in the boxed body, rather than in the
                // proxy's response body, which every response moves a dozen times.
                this.failed = Some(error.into());
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Ready(polled) => {
                this.stall.progressed();
                Poll::Ready(polled.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => this.stall.poll_stalled(&mut this.timer, cx).map(|stalled| {
                this.errors.count(BodyErrorReason::Timeout);
                Some(Err(stalled.into()))
            }),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Why hyper's body failed: a broken framing, or else the backend's connection (or
/// HTTP/2 stream) went away.
fn reason(error: &hyper::Error) -> BodyErrorReason {
    if error.is_parse() {
        BodyErrorReason::Invalid
    } else {
        BodyErrorReason::Closed
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            UpstreamBody::Hyper(body) => Pin::new(&mut **body).poll_frame(cx),
            UpstreamBody::Direct(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::Hyper(body) => body.is_end_stream(),
            UpstreamBody::Direct(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::Hyper(body) => body.size_hint(),
            UpstreamBody::Direct(body) => body.size_hint(),
        }
    }
}
