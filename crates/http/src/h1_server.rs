//! The in-task HTTP/1.1 server: the requests without a body of a client connection,
//! read, answered and written in the connection's own task, with no hyper connection
//! under them (hyper's dispatch, its second parse of every head behind the head
//! guard's, and its 8 KiB reserve for a read while a request is answered cost more
//! than the proxying itself). It follows hyper's server on the wire
//! ([`response_head`]), and keeps the head guard's rules: the same checks, the same
//! deadlines ([`HeadClock`]), the same parking.
//!
//! Lifecycle of one connection (from its first bytes, or from the bytes that woke it
//! from parking):
//! 1. **Head**: bytes are read into one buffer (2 KiB, grown while a head needs it,
//!    up to the 64 KiB a head may take); a head is parsed only when a read brought a
//!    possible end of it, so a trickling client costs one pass over its bytes.
//! 2. **Handed off**: a head with a body, one asking for an upgrade, a refused one,
//!    or one that did not end within `header_read_timeout` is not served here: the
//!    stream, the bytes read (that head first) and the clock go to the head guard and
//!    hyper's server ([`Ended::Handoff`]), which serve from there on, exactly as if
//!    they had read every byte.
//! 3. **Answered**: any other head becomes a request for the service
//!    ([`crate::serve::respond`]). While it is answered, the connection is read only
//!    to see the client close (then the request is dropped, as hyper drops it): bytes
//!    that come meanwhile are kept as the next head (pipelining; one request at a
//!    time).
//! 4. **Written**: head and body ([`response_body`]; while the body has nothing
//!    ready the client is watched as in step 3); then the connection is kept
//!    (step 1) unless the client or the response said `close`, the body did not end
//!    whole, or the listener drains.
//! 5. **Idle**: nothing of a next head; past `keepalive_timeout` the connection is
//!    closed quietly, and after [`crate::park::PARK_AFTER`] it is parked
//!    ([`Ended::Parked`]: its buffers freed until the client sends again).
//!
//! Draining: an idle connection (or one between requests) closes at once; a request
//! in flight is answered with `Connection: close`, then the connection closes.

mod date;
pub(crate) mod request_head; // Also reached by `crate::fuzz`.
mod response_body;
mod response_head;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use futures_util::future::{Fuse, FusedFuture};
use http::{Method, Request, Version};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::body::Watched;
use crate::client_body::FromClient;
use crate::conn::ClientConn;
use crate::head_check::MAX_HEAD;
use crate::head_clock::{Expired, HeadClock, Responses, Wait};
use crate::head_guard::{Start, may_end_head};
use crate::park::Parked;
use crate::serve::{Source, respond};
use request_head::{Parsed, RequestHead, Spans};
use response_body::Watch;
use response_head::Asked;

/// The read buffer's first size, and what it grows by: a head of a browser or an
/// API client fits; a larger one grows it (up to [`MAX_HEAD`] and a read more).
const READ_BUFFER: usize = 2 * 1024;
/// The least room a read is given before the buffer grows.
const MIN_READ: usize = 512;
/// A write buffer grown past this by a large response is not kept for the next one.
const KEPT_WRITE_BUFFER: usize = 16 * 1024;

/// How the in-task server let go of a connection.
#[derive(Debug)]
pub(crate) enum Ended<S> {
    /// It is over: closed by either side, timed out, failed, or drained.
    Closed,
    /// Idle long enough to park ([`crate::park`]).
    Parked(Parked<S>),
    /// A head the head guard and hyper answer (module doc, step 2): the stream, what
    /// was read (that head first), and the connection's clock. `timed_out`: the head
    /// did not end in time (the guard answers 408).
    Handoff {
        stream: S,
        start: Start,
        clock: HeadClock,
        timed_out: bool,
    },
}

/// What a connection's requests are served with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Served<'a> {
    pub(crate) conn: &'a Arc<ClientConn>,
    pub(crate) source: &'a Source,
    /// Counts each response written, for a guard that takes over later.
    pub(crate) responses: &'a Arc<Responses>,
}

/// What the connection waits for next.
#[allow(clippy::large_enum_variant)] // Moved once a request: a box would be an allocation.
enum Next {
    Head(RequestHead),
    Handoff { timed_out: bool },
    Park(Instant),
    Closed,
}

/// One connection as the in-task server holds it.
struct Session<S> {
    stream: S,
    read: BytesMut,
    /// How much of `read` is known to hold no end of a head.
    scanned: usize,
    write: Vec<u8>,
    spans: Spans,
    /// Request heads read on the connection so far.
    heads: u64,
    clock: HeadClock,
}

/// Serves `stream` from `start` until it closes, parks or is handed off; `draining`
/// resolves when the listener drains.
pub(crate) async fn serve<S, D>(
    stream: S,
    start: Start,
    clock: HeadClock,
    served: Served<'_>,
    draining: &mut Pin<&mut Fuse<D>>,
) -> Ended<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Future<Output = ()>,
{
    let mut read = BytesMut::with_capacity(READ_BUFFER.max(start.read.len()));
    read.extend_from_slice(&start.read);
    let mut session = Session {
        stream,
        read,
        scanned: 0,
        write: Vec::new(),
        spans: Spans::default(),
        heads: start.heads,
        clock,
    };
    loop {
        let head = match std::future::poll_fn(|cx| session.poll_head(cx, draining)).await {
            Next::Head(head) => head,
            Next::Handoff { timed_out } => return session.hand_off(timed_out),
            Next::Park(until) => {
                return Ended::Parked(Parked {
                    stream: session.stream,
                    heads: session.heads,
                    until,
                });
            }
            Next::Closed => return session.close().await,
        };
        session.heads += 1;
        let kept = session.exchange(head, served, draining).await;
        served.responses.finish();
        if !kept {
            return session.close().await;
        }
    }
}

/// Reads more from `stream` into `read` (grown when it has little room); `Ok(0)`:
/// closed.
fn poll_fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    read: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<usize>> {
    if read.capacity() - read.len() < MIN_READ {
        read.reserve(READ_BUFFER.max(read.len()));
    }
    tokio_util::io::poll_read_buf(Pin::new(stream), cx, read)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Steps 1, 2 and 5 of the lifecycle: `Ready` with the next head, or with the
    /// reason there is none.
    fn poll_head<D: Future<Output = ()>>(
        &mut self,
        cx: &mut Context<'_>,
        draining: &mut Pin<&mut Fuse<D>>,
    ) -> Poll<Next> {
        loop {
            if let Some(next) = self.parsed() {
                return Poll::Ready(next);
            }
            // Polled here so that the answer to a head read meanwhile knows
            // (`Connection: close`), and the waits below are cut short (the head
            // clock's step 6: a request already on its way is answered, not cut).
            if draining.is_terminated() || draining.as_mut().poll(cx).is_ready() {
                self.clock.drain();
            }
            match self.poll_fill(cx) {
                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(Next::Closed),
                Poll::Ready(Ok(_)) => {
                    self.clock.moved();
                    continue;
                }
                Poll::Pending => {}
            }
            let idle = self.read.is_empty() && self.heads > 0;
            let kind = if idle { Wait::Idle } else { Wait::Head };
            return match std::task::ready!(self.clock.poll_expired(cx, Some(kind))) {
                Expired::Park { until } => Poll::Ready(Next::Park(until)),
                Expired::Waited(Wait::Head) if !self.read.is_empty() => {
                    Poll::Ready(Next::Handoff { timed_out: true })
                }
                Expired::Waited(_) => Poll::Ready(Next::Closed),
            };
        }
    }

    /// The head at the front of the buffer, when it may have ended there (a head
    /// parsed once and found unfinished is parsed again only then).
    fn parsed(&mut self) -> Option<Next> {
        if self.read.len() == self.scanned {
            return None;
        }
        let from = self.scanned.saturating_sub(3);
        if self.scanned > 0 && !self.read.get(from..).is_some_and(may_end_head) {
            self.scanned = self.read.len();
            return (self.read.len() > MAX_HEAD).then_some(Next::Handoff { timed_out: false });
        }
        match request_head::parse(&mut self.read, &mut self.spans) {
            Parsed::Request(head) => {
                self.scanned = 0;
                self.clock.head_ended();
                Some(Next::Head(head))
            }
            Parsed::Handoff => Some(Next::Handoff { timed_out: false }),
            Parsed::Partial => {
                self.scanned = self.read.len();
                None
            }
        }
    }

    /// Reads more into the buffer; `Ok(0)`: closed.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        poll_fill(&mut self.stream, &mut self.read, cx)
    }

    /// Steps 3 and 4: answers `head` and writes the answer; whether the connection
    /// is kept.
    async fn exchange<D: Future<Output = ()>>(
        &mut self,
        head: RequestHead,
        served: Served<'_>,
        draining: &mut Pin<&mut Fuse<D>>,
    ) -> bool {
        let asked_head = head.parts.method == Method::HEAD;
        let http10 = head.parts.version == Version::HTTP_10;
        let request = Request::from_parts(head.parts, FromClient::Empty);
        let (conn, source) = (served.conn.clone(), served.source.clone());
        let mut watch = true;
        // In a block of its own: the answer's future ends before the write's starts,
        // so the two share their room in this future (inline one after the other they
        // took ~1.3 KiB more of every connection with a request in flight; dhat at
        // `-c 1000`).
        let answered = {
            let mut respond = std::pin::pin!(respond(conn, source, request, Watched::Nothing));
            std::future::poll_fn(|cx| {
                if let Poll::Ready(response) = respond.as_mut().poll(cx) {
                    return Poll::Ready(Some(response));
                }
                if !draining.is_terminated() {
                    let _ = draining.as_mut().poll(cx);
                }
                // hyper's rule: read only while nothing is buffered, to see a close.
                if watch && self.read.is_empty() {
                    match self.poll_fill(cx) {
                        Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(None),
                        Poll::Ready(Ok(_)) => watch = false,
                        Poll::Pending => {}
                    }
                }
                Poll::Pending
            })
            .await
        };
        let Some(response) = answered else {
            return false; // The client went away: the request is dropped.
        };
        if !draining.is_terminated() {
            // A drain since the last poll (an answer ready at once polls it not).
            let _ = std::future::poll_fn(|cx| Poll::Ready(draining.as_mut().poll(cx))).await;
        }
        let asked = Asked {
            head: asked_head,
            http10,
            keep_alive: head.keep_alive && !draining.is_terminated(),
        };
        let watch = Watch {
            read: &mut self.read,
            on: watch,
        };
        let out = (&mut self.write, watch);
        let kept = response_body::write(&mut self.stream, out, response, asked).await;
        if self.write.capacity() > KEPT_WRITE_BUFFER {
            self.write = Vec::new();
        }
        kept.unwrap_or(false)
    }

    /// Ends the connection as hyper ends it: written out, then shut down.
    async fn close(mut self) -> Ended<S> {
        let _ = self.stream.shutdown().await;
        Ended::Closed
    }

    /// Step 2: the connection as the head guard takes it over.
    fn hand_off(self, timed_out: bool) -> Ended<S> {
        Ended::Handoff {
            stream: self.stream,
            start: Start {
                heads: self.heads,
                read: self.read.to_vec(),
            },
            clock: self.clock,
            timed_out,
        }
    }
}
