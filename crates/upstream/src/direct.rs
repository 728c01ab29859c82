//! The in-task HTTP/1.1 client: a keep-alive connection that the request's own task
//! writes and reads, for the requests it can carry (no body, no upgrade).
//!
//! Why not hyper's client for these: hyper's HTTP/1 client connection runs as a task
//! of its own, taking each request over a channel and answering over a oneshot, so
//! every request crosses tasks twice and pays hyper's dispatcher on top.
//! `benches/instructions.sh --direct` measured it on the floor: 23,216 instructions
//! a request with hyper's client, 14,710 with a client written into the
//! connection's task (0.63x), the largest cost left on sluicegate's request path.
//! Requests with a body, upgrades and HTTP/2 stay on hyper (`pool.rs`, `h2_pool.rs`):
//! a body must be written while the response is read, and a `101` hands the
//! connection over, which hyper already does well.
//!
//! Lifecycle of a connection here: opened by a request (`Pool::send`, counted in the
//! pool's `open`), the head written and the response head read in that request's
//! task ([`Conn::exchange`]), then owned by the response body ([`DirectBody`]) until
//! the body ends; then, if the response lets it persist and nothing follows the
//! body, it goes back on its worker's idle stack ([`Stacks`]); the next request
//! takes the most recent one after checking, without a system call, that the
//! backend has not closed it ([`Conn::is_usable`]); the pool's reaper closes those
//! idle past the cluster's idle timeout. Dropped anywhere else, it is closed.

mod body;
mod chunked;
pub(crate) mod framing;
mod request_head;
mod response_head;

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use http::{Method, Request, StatusCode, header};
use hyper::body::Body;
use sluicegate_metrics::BodyErrors;
use sluicegate_runtime::LazyTimer;
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

pub use body::DirectBody;
pub(crate) use response_head::ResponseHead;

use crate::body_stall::BodyStall;
use crate::connector::UpstreamStream;
use crate::field_names::FieldNames;
use crate::outgoing::Outgoing;
use crate::pool::{MAX_IDLE, OpenCount};
use crate::send_error::is_reset;

/// Read buffer kept by a connection (hyper's default read buffer starts at 8 KiB).
const READ_BUFFER: usize = 8 * 1024;

/// Whether the in-task client can carry `request`: it has no body (nothing to write
/// while the response is read) and asks for no upgrade or tunnel.
pub(crate) fn carries<B: Body>(request: &Request<B>) -> bool {
    request.body().is_end_stream()
        && request.method() != Method::CONNECT
        && !asks_to_switch_or_frame(request.headers())
}

/// Whether a head has `Transfer-Encoding` or `Upgrade`. Most request heads hold a
/// handful of fields, and comparing each name (standard names compare as numbers)
/// costs less than hashing both names for two lookups; a long head is looked up.
fn asks_to_switch_or_frame(headers: &http::HeaderMap) -> bool {
    if headers.len() > crate::short_head::SCANNED {
        return headers.contains_key(header::TRANSFER_ENCODING)
            || headers.contains_key(header::UPGRADE);
    }
    headers
        .keys()
        .any(|name| name == header::TRANSFER_ENCODING || name == header::UPGRADE)
}

/// One connection to a backend with its buffers.
#[derive(Debug)]
pub(crate) struct Conn {
    io: UpstreamStream,
    read: BytesMut,
    write: Vec<u8>,
    timer: LazyTimer,
    /// The bound on the current response body's waits for bytes.
    stall: BodyStall,
    /// Where a body that fails is counted (its backend's counters).
    body_errors: Arc<BodyErrors>,
    /// The backend's field names, remembered from head to head.
    names: FieldNames,
    _open: OpenCount,
}

/// How an exchange failed.
#[derive(Debug)]
pub(crate) enum ExchangeError {
    /// Nothing of the request was written: it may go on another connection.
    Unwritten(io::Error),
    /// The request went out and the connection ended (closed or reset) before any
    /// byte of a response: on a reused connection, the idle-close race.
    Closed(io::Error),
    /// Anything else: a broken or invalid response.
    Failed(io::Error),
    /// No response head by the deadline.
    TimedOut,
}

impl Conn {
    /// A new connection over `io`, counted in the pool's `open` while it lives, its
    /// failed bodies in `body_errors`.
    /// Boxed once for its life: it moves into and out of response bodies and stacks.
    pub(crate) fn new(
        io: UpstreamStream,
        open: OpenCount,
        body_errors: Arc<BodyErrors>,
    ) -> Box<Self> {
        Box::new(Self {
            io,
            read: BytesMut::with_capacity(READ_BUFFER),
            write: Vec::new(),
            timer: LazyTimer::default(),
            stall: BodyStall::default(),
            body_errors,
            names: FieldNames::default(),
            _open: open,
        })
    }

    /// Whether an idle connection can carry a request: the backend has neither
    /// closed it nor sent anything on it. No system call unless the socket became
    /// readable since it was last read dry (tokio keeps that readiness).
    fn is_usable(&mut self) -> bool {
        if !self.read.is_empty() {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        let mut probe = [0u8; 1];
        let mut buf = ReadBuf::new(&mut probe);
        Pin::new(&mut self.io)
            .poll_read(&mut cx, &mut buf)
            .is_pending()
    }

    /// Reads more bytes into the read buffer; `Ok(0)`: the backend closed.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.read.capacity() - self.read.len() < READ_BUFFER / 2 {
            self.read.reserve(READ_BUFFER);
        }
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read)
    }

    /// The body read found nothing: ready with the error to end it once the
    /// response body timeout has passed without bytes (`body_stall.rs`).
    pub(crate) fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        self.stall.poll_stalled(&mut self.timer, cx)
    }

    /// Bounds the waits of the body about to be read by `timeout` between reads.
    pub(crate) fn bound_body(&mut self, timeout: Duration) {
        self.stall = BodyStall::new(timeout);
    }

    async fn fill(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// Writes the head of `request`. An error before the first byte was taken leaves
    /// the request unwritten.
    async fn write_head<B>(&mut self, request: &Outgoing<B>) -> Result<(), ExchangeError> {
        self.write.clear();
        request_head::encode(request, &mut self.write);
        let written = self
            .io
            .write(&self.write)
            .await
            .map_err(ExchangeError::Unwritten)?;
        if written == 0 {
            return Err(ExchangeError::Unwritten(io::ErrorKind::WriteZero.into()));
        }
        if let Some(rest) = self.write.get(written..).filter(|r| !r.is_empty()) {
            self.io
                .write_all(rest)
                .await
                .map_err(ExchangeError::Failed)?;
        }
        Ok(())
    }

    /// Writes the head of `request` (which has no body) and reads the response head,
    /// skipping informational responses, by `deadline` (the connection's own timer:
    /// `sluicegate_runtime::LazyTimer`). A `101` is an error: no upgrade was asked.
    pub(crate) async fn exchange<B>(
        &mut self,
        request: &Outgoing<B>,
        deadline: Instant,
    ) -> Result<ResponseHead, ExchangeError> {
        // Out of `self` while the exchange borrows it; put back after (a connection
        // whose exchange is dropped half-way is never reused).
        let mut timer = std::mem::take(&mut self.timer);
        let result = {
            let mut exchange = std::pin::pin!(self.exchange_untimed(request));
            std::future::poll_fn(|cx| {
                if let Poll::Ready(done) = exchange.as_mut().poll(cx) {
                    return Poll::Ready(done);
                }
                timer
                    .poll_passed(cx, deadline)
                    .map(|()| Err(ExchangeError::TimedOut))
            })
            .await
        };
        self.timer = timer;
        result
    }

    async fn exchange_untimed<B>(
        &mut self,
        request: &Outgoing<B>,
    ) -> Result<ResponseHead, ExchangeError> {
        self.write_head(request).await?;
        let head_request = request.request.method() == Method::HEAD;
        let mut answered = false;
        loop {
            let parsed = response_head::parse(&mut self.read, &mut self.names, head_request);
            let parsed = parsed.map_err(|e| {
                ExchangeError::Failed(io::Error::new(io::ErrorKind::InvalidData, e))
            })?;
            match parsed {
                Some(head) if head.parts.status == StatusCode::SWITCHING_PROTOCOLS => {
                    let unasked = "101 Switching Protocols to a request that asked for no upgrade";
                    return Err(ExchangeError::Failed(io::Error::new(
                        io::ErrorKind::InvalidData,
                        unasked,
                    )));
                }
                // The next head may be in the buffer already.
                Some(head) if head.parts.status.is_informational() => {
                    answered = true;
                    continue;
                }
                Some(head) => return Ok(head),
                None => {}
            }
            match self.fill().await {
                Ok(0) if !answered && self.read.is_empty() => {
                    return Err(ExchangeError::Closed(io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(0) => {
                    let cut = "backend closed before the response head ended";
                    return Err(ExchangeError::Failed(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        cut,
                    )));
                }
                Ok(_) => answered = true,
                Err(e) if !answered && is_reset(&e) => return Err(ExchangeError::Closed(e)),
                Err(e) => return Err(ExchangeError::Failed(e)),
            }
        }
    }
}

/// One worker's idle connections, each with the time it went idle; most recent last.
type Stack = Mutex<Vec<(Box<Conn>, std::time::Instant)>>;

/// The idle connections of one backend, a stack per worker.
#[derive(Debug)]
pub(crate) struct Stacks {
    idle: Box<[Stack]>,
    idle_timeout: Duration,
}

impl Stacks {
    /// Empty stacks for `workers` workers.
    pub(crate) fn new(workers: usize, idle_timeout: Duration) -> Self {
        Self {
            idle: (0..workers.max(1)).map(|_| Mutex::default()).collect(),
            idle_timeout,
        }
    }

    /// The number of stacks.
    pub(crate) fn len(&self) -> usize {
        self.idle.len()
    }

    /// The most recently used usable connection of stack `at`, closing the expired
    /// and the closed ones met on the way.
    pub(crate) fn pop(&self, at: usize) -> Option<Box<Conn>> {
        let mut idle = self.idle.get(at)?.lock().ok()?;
        while let Some((mut conn, since)) = idle.pop() {
            if since.elapsed() < self.idle_timeout && conn.is_usable() {
                return Some(conn);
            }
        }
        None
    }

    fn push(&self, conn: Box<Conn>, home: usize) {
        if let Some(Ok(mut idle)) = self.idle.get(home).map(Mutex::lock)
            && idle.len() < MAX_IDLE
        {
            idle.push((conn, std::time::Instant::now()));
        }
    }

    /// Closes connections idle for the idle timeout (oldest are at the front).
    pub(crate) fn evict_expired(&self) {
        for stack in &self.idle {
            if let Ok(mut idle) = stack.lock() {
                let fresh = idle
                    .iter()
                    .position(|(_, since)| since.elapsed() < self.idle_timeout)
                    .unwrap_or(idle.len());
                idle.drain(..fresh);
            }
        }
    }
}

/// Where a connection goes when its response body has ended, and the pool permit it
/// holds until then.
#[derive(Debug)]
pub(crate) struct GiveBack {
    pub(crate) stacks: Weak<Stacks>,
    /// The worker stack it goes back to (a worker index: `u32` keeps a response
    /// within the 256 bytes `memcpy` moves without a loop, see `lease.rs`).
    pub(crate) home: u32,
    /// Whether the response lets the connection persist.
    pub(crate) reuse: bool,
    pub(crate) permit: Option<OwnedSemaphorePermit>,
}

impl GiveBack {
    /// Puts `conn` back on its stack if it may persist (else closes it), then lets
    /// the permit go: the next in line finds the connection idle.
    fn give(self, conn: Box<Conn>) {
        if self.reuse
            && let Some(stacks) = self.stacks.upgrade()
        {
            stacks.push(conn, self.home as usize);
        }
        drop(self.permit);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn get(fields: &[(&str, &str)]) -> Request<String> {
        let mut request = Request::get("/").body(String::new()).unwrap();
        for (name, value) in fields {
            let name = http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            let value = http::HeaderValue::from_str(value).unwrap();
            request.headers_mut().append(name, value);
        }
        request
    }

    #[test]
    fn only_bodiless_requests_that_ask_for_no_switch_are_carried() {
        assert!(carries(&get(&[("host", "a")])));
        assert!(!carries(&get(&[("host", "a"), ("upgrade", "websocket")])));
        assert!(!carries(&get(&[("transfer-encoding", "chunked")])));
        let mut with_body = get(&[]);
        *with_body.body_mut() = "x".into();
        assert!(!carries(&with_body));
        let mut connect = get(&[]);
        *connect.method_mut() = Method::CONNECT;
        assert!(!carries(&connect));
        // A long head is looked up rather than scanned: the same answers.
        let names: Vec<String> = (0..20).map(|i| format!("x-field-{i}")).collect();
        let mut long: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        assert!(carries(&get(&long)));
        long.push(("upgrade", "websocket"));
        assert!(!carries(&get(&long)));
    }
}
