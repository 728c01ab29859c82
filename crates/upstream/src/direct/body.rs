//! The body of a response read by the in-task client ([`DirectBody`]): it owns the
//! backend connection while the body is read, straight from the connection's read
//! buffer (data frames are slices of it), and gives the connection back to its
//! worker's idle stack the moment the body has ended, if the response lets it
//! persist. Dropped before the end (the client went away, an error), it closes the
//! connection: a connection is never reused with an unread body on it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::{Body, Frame, SizeHint};
use sluicegate_metrics::BodyErrorReason;

use super::chunked::{Chunked, Step};
use super::framing::Framing;
use super::{Conn, GiveBack};

/// A response body read by the in-task client.
#[derive(Debug)]
pub struct DirectBody {
    state: State,
    /// The connection, while the body is read from it.
    conn: Option<Box<Conn>>,
    /// Where the connection goes once the body has ended; `None`: it is closed.
    back: Option<GiveBack>,
}

#[derive(Debug)]
enum State {
    /// This many bytes left.
    Length(u64),
    Chunked(Chunked),
    /// Until the backend closes.
    Close,
    Done,
}

/// What one look at the buffer gave.
enum Got {
    Frame(Frame<Bytes>),
    /// The body ended (with trailers, if any).
    End(Option<HeaderMap>),
    More,
}

impl DirectBody {
    /// The body framed by `framing`, read from `conn`; `back` takes the connection
    /// at its end (and closes it if the response does not let it persist).
    pub(crate) fn new(framing: Framing, conn: Box<Conn>, back: GiveBack) -> Self {
        let state = match framing {
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunked::new()),
            Framing::Close => State::Close,
        };
        let mut body = Self {
            state,
            conn: Some(conn),
            back: Some(back),
        };
        if matches!(body.state, State::Length(0)) {
            body.finish();
        }
        body
    }

    /// Bounds each wait for the body's next bytes by `timeout`; past it the body
    /// fails (`body_stall.rs`) and its connection is closed.
    pub(crate) fn bound(&mut self, timeout: Duration) {
        if let Some(conn) = self.conn.as_mut() {
            conn.bound_body(timeout);
        }
    }

    /// The body has ended: the connection goes back, unless bytes follow the body
    /// (a backend that sent more than it framed is not trusted with another request).
    fn finish(&mut self) {
        self.state = State::Done;
        let (conn, back) = (self.conn.take(), self.back.take());
        if let (Some(conn), Some(back)) = (conn, back)
            && conn.read.is_empty()
        {
            back.give(conn);
        }
    }

    /// Ends the body on an error, counted against its backend: the connection is
    /// closed.
    fn fail(&mut self, error: io::Error) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(conn) = &self.conn {
            conn.body_errors.count(reason(&error));
        }
        self.state = State::Done;
        self.conn = None;
        self.back = None;
        Poll::Ready(Some(Err(error)))
    }

    /// What the bytes already read give.
    fn look(&mut self) -> Result<Got, io::Error> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Got::End(None));
        };
        let read = &mut conn.read;
        match &mut self.state {
            State::Done => Ok(Got::End(None)),
            State::Length(0) => Ok(Got::End(None)),
            State::Length(left) if !read.is_empty() => {
                let take = usize::try_from(*left).unwrap_or(usize::MAX).min(read.len());
                *left -= take as u64;
                Ok(Got::Frame(Frame::data(read.split_to(take).freeze())))
            }
            State::Close if !read.is_empty() => Ok(Got::Frame(Frame::data(read.split().freeze()))),
            State::Length(_) | State::Close => Ok(Got::More),
            State::Chunked(decoder) => match decoder.step(read).map_err(io::Error::other)? {
                Step::Data(data) => Ok(Got::Frame(Frame::data(data))),
                Step::Trailers(trailers) => Ok(Got::End(Some(trailers))),
                Step::Done => Ok(Got::End(None)),
                Step::More => Ok(Got::More),
            },
        }
    }
}

impl Body for DirectBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            match this.look() {
                Err(error) => return this.fail(error),
                Ok(Got::Frame(frame)) => {
                    if matches!(this.state, State::Length(0)) {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(Got::End(trailers)) => {
                    this.finish();
                    return Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))));
                }
                Ok(Got::More) => {}
            }
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            let filled = match conn.poll_fill(cx) {
                Poll::Ready(filled) => filled,
                Poll::Pending => {
                    // Nothing yet: wait, up to the response body timeout.
                    let stalled = ready!(conn.poll_stalled(cx));
                    return this.fail(stalled);
                }
            };
            conn.stall.progressed();
            match filled {
                Ok(0) if matches!(this.state, State::Close) => {
                    // The close ends a close-delimited body; the connection is gone.
                    this.state = State::Done;
                    this.conn = None;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    let cut =
                        io::Error::new(io::ErrorKind::UnexpectedEof, "backend closed mid-body");
                    return this.fail(cut);
                }
                Ok(_) => {}
                Err(error) => return this.fail(error),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done | State::Length(0))
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            State::Chunked(_) | State::Close => SizeHint::default(),
        }
    }
}

/// Why the in-task client's body failed: its stall bound, the chunked decoder's
/// refusal (`io::Error::other`) or a TLS record that is not one, else the connection.
fn reason(error: &io::Error) -> BodyErrorReason {
    match error.kind() {
        io::ErrorKind::TimedOut => BodyErrorReason::Timeout,
        io::ErrorKind::Other | io::ErrorKind::InvalidData => BodyErrorReason::Invalid,
        _ => BodyErrorReason::Closed,
    }
}
