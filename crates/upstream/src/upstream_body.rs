//! The body of a backend's response, whichever client read its head: hyper's
//! (`Incoming`: HTTP/2, requests with a body, upgrades) or the in-task HTTP/1.1
//! client's ([`DirectBody`]).

use std::error::Error as StdError;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::direct::DirectBody;

/// An error reading a response body.
pub type BodyError = Box<dyn StdError + Send + Sync>;

/// A backend's response body.
#[derive(Debug)]
pub enum UpstreamBody {
    /// Read by hyper's client.
    Hyper(Incoming),
    /// Read by the in-task client.
    Direct(DirectBody),
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            UpstreamBody::Hyper(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
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
