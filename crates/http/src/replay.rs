//! Request bodies sent upstream, and the buffering that makes a retry possible.
//!
//! A request whose body may be sent again (idempotent method, retries on) is read into
//! memory first if it ends within the cluster's buffer limit (64 KiB); a larger one is
//! streamed on after the part already read, and is then never retried once sent. A
//! request with no body costs nothing: it is replayable as it is.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};

use crate::client_body::{self, BodyError, ClientBody};
use crate::status::ProxyError;

/// The body of one upstream request, as the upstream pools send it. Made only by
/// this crate; public so that the pools' body type ([`crate::Live`]) can be named.
#[derive(Debug)]
pub struct RequestBody(Kind);

#[derive(Debug)]
enum Kind {
    /// The client's body, streamed as it arrives.
    Streamed(ClientBody),
    /// Read whole beforehand: a copy of a replayable body.
    Buffered {
        data: Option<Bytes>,
        trailers: Option<HeaderMap>,
    },
    /// What was read while trying to buffer, then the rest of the stream.
    Partial {
        read: VecDeque<Bytes>,
        rest: ClientBody,
    },
}

/// A request body after preparation: replayable (held whole) or sendable once.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// The whole body, to send as many times as needed.
    Replayable {
        data: Bytes,
        trailers: Option<HeaderMap>,
    },
    /// A body that can be sent once (`None` once taken).
    Once(Option<RequestBody>),
}

impl Prepared {
    /// Reads `body` into memory if `limit` is given and it ends within `limit` bytes;
    /// otherwise it stays a stream. A client that fails mid-body gets a 400
    /// (408 when it stopped sending).
    pub(crate) async fn of(body: ClientBody, limit: Option<usize>) -> Result<Self, ProxyError> {
        if body.is_end_stream() {
            return Ok(Prepared::Replayable {
                data: Bytes::new(),
                trailers: None,
            });
        }
        let Some(limit) = limit.filter(|l| body.size_hint().lower() <= *l as u64) else {
            return Ok(Prepared::Once(Some(RequestBody(Kind::Streamed(body)))));
        };
        let mut body = body;
        let mut read = VecDeque::new();
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|error| client_body::failed(&error))?;
            match frame.into_data() {
                Ok(data) => {
                    total += data.len();
                    read.push_back(data);
                    if total > limit {
                        return Ok(Prepared::Once(Some(RequestBody(Kind::Partial {
                            read,
                            rest: body,
                        }))));
                    }
                }
                Err(frame) => {
                    let trailers = frame.into_trailers().ok();
                    return Ok(Prepared::Replayable {
                        data: concat(read, total),
                        trailers,
                    });
                }
            }
        }
        Ok(Prepared::Replayable {
            data: concat(read, total),
            trailers: None,
        })
    }

    /// The body for the next attempt: a copy of a replayable one, or the stream.
    pub(crate) fn take(&mut self) -> Option<RequestBody> {
        match self {
            Prepared::Replayable { data, trailers } => Some(RequestBody(Kind::Buffered {
                data: (!data.is_empty()).then(|| data.clone()),
                trailers: trailers.clone(),
            })),
            Prepared::Once(body) => body.take(),
        }
    }

    /// Whether a body that was sent can be sent again.
    pub(crate) fn is_replayable(&self) -> bool {
        matches!(self, Prepared::Replayable { .. })
    }
}

fn concat(mut parts: VecDeque<Bytes>, total: usize) -> Bytes {
    if parts.len() == 1 {
        return parts.pop_front().unwrap_or_default();
    }
    let mut all = Vec::with_capacity(total);
    for part in parts {
        all.extend_from_slice(&part);
    }
    Bytes::from(all)
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.get_mut().0 {
            Kind::Streamed(body) => Pin::new(body).poll_frame(cx),
            Kind::Buffered { data, trailers } => Poll::Ready(
                data.take()
                    .map(|d| Ok(Frame::data(d)))
                    .or_else(|| trailers.take().map(|t| Ok(Frame::trailers(t)))),
            ),
            Kind::Partial { read, rest } => match read.pop_front() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => Pin::new(rest).poll_frame(cx),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Kind::Streamed(body) => body.is_end_stream(),
            Kind::Buffered { data, trailers } => data.is_none() && trailers.is_none(),
            Kind::Partial { read, rest } => read.is_empty() && rest.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Streamed(body) => body.size_hint(),
            Kind::Buffered { data, .. } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Partial { read, rest } => {
                let read: u64 = read.iter().map(|d| d.len() as u64).sum();
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower() + read);
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper + read);
                }
                hint
            }
        }
    }
}
