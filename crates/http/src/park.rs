//! Parking idle kept-alive HTTP/1 connections outside hyper, so that an idle
//! connection holds its socket and little else (nginx frees a kept-alive
//! connection's buffers the same way, and allocates them again when bytes come).
//!
//! hyper's HTTP/1 server keeps, for its connection's whole life, an 8 KiB write
//! buffer and a read buffer of 8-16 KiB, whether requests come or not: measured with
//! 4,000 kept-alive connections, 24 KiB per idle connection. Lifecycle of a parked
//! connection:
//! 1. **Parked**: a connection idle for [`PARK_AFTER`] (every response finished,
//!    nothing of the next head, its keep-alive not yet over) is parked by its head
//!    guard: hyper reads the end of the stream and ends the connection as if the
//!    client had closed, without writing a byte, and the [`Parkable`] under the guard
//!    hands the socket to the connection's [`Parking`] instead of shutting it down.
//!    hyper's connection and its buffers are freed.
//! 2. **Waiting**: the connection's task waits for the client's next bytes
//!    ([`next_bytes`]) with nothing allocated but a small read buffer on its stack,
//!    until the keep-alive deadline that was running when it parked (then it is
//!    closed quietly, as hyper would have), the listener's drain, or the client's
//!    close.
//! 3. **Resumed**: the bytes read go to a new head guard as the start of the next
//!    head (checked as any head), under a new hyper connection; the connection's
//!    request count, refusals and upgrades carry on.
//!
//! Cost: a connection that comes back after [`PARK_AFTER`] pays hyper's connection
//! set-up again (three allocations) and one more read of the socket. Clients sending
//! requests back to back never park.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use metrics::Gauge;
use sluicegate_metrics::ListenerSeries;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::Instant;

/// How long a kept-alive connection is idle before it is parked: long enough that a
/// client sending its requests back to back (a load test, a browser loading a page)
/// never pays the set-up again, short enough that idle connections hold their
/// buffers for at most about a second.
pub(crate) const PARK_AFTER: Duration = Duration::from_secs(1);

/// The first read of a parked connection that wakes: the start of the next head
/// (the guard reads the rest as it reads any head that came in parts).
const FIRST_READ: usize = 64;

/// A connection parked by its head guard, as the guard left it.
#[derive(Debug)]
pub(crate) struct Parked<S> {
    /// The client's stream, nothing read from it past the last request.
    pub(crate) stream: S,
    /// Request heads read on the connection so far.
    pub(crate) heads: u64,
    /// When its keep-alive wait ends.
    pub(crate) until: Instant,
}

/// Where a [`Parkable`] puts its stream when it is dropped parked.
#[derive(Debug)]
pub(crate) struct Parking<S> {
    parked: Mutex<Option<Parked<S>>>,
}

impl<S> Default for Parking<S> {
    fn default() -> Self {
        Self {
            parked: Mutex::new(None),
        }
    }
}

impl<S> Parking<S> {
    /// The parked connection, once its hyper connection has ended; `None` when it
    /// ended otherwise (closed, refused, upgraded, drained).
    pub(crate) fn take(&self) -> Option<Parked<S>> {
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn put(&self, parked: Parked<S>) {
        *self.parked.lock().unwrap_or_else(PoisonError::into_inner) = Some(parked);
    }
}

/// A client stream that can be parked: until then it reads and writes as `S`; once
/// parked it no longer shuts down, and when dropped it is put in its [`Parking`].
#[derive(Debug)]
pub(crate) struct Parkable<S> {
    /// Always `Some` until dropped (taken out then).
    io: Option<S>,
    parking: Arc<Parking<S>>,
    /// Set by [`Parkable::park`]: the heads read and the keep-alive deadline.
    parked: Option<(u64, Instant)>,
}

impl<S> Parkable<S> {
    /// `io`, to be put in `parking` if it is parked.
    pub(crate) fn new(io: S, parking: Arc<Parking<S>>) -> Self {
        Self {
            io: Some(io),
            parking,
            parked: None,
        }
    }

    /// Parks the stream after `heads` request heads, its keep-alive running `until`.
    pub(crate) fn park(&mut self, heads: u64, until: Instant) {
        self.parked = Some((heads, until));
    }

    /// The stream; an error once it was taken out (only `drop` takes it).
    fn io(&mut self) -> io::Result<Pin<&mut S>>
    where
        S: Unpin,
    {
        self.io
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::Error::other("the connection was parked"))
    }
}

impl<S> Drop for Parkable<S> {
    fn drop(&mut self) {
        if let (Some(stream), Some((heads, until))) = (self.io.take(), self.parked) {
            self.parking.put(Parked {
                stream,
                heads,
                until,
            });
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Parkable<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut().io() {
            Ok(io) => io.poll_read(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Parkable<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().io() {
            Ok(io) => io.poll_write(cx, buf),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().io() {
            Ok(io) => io.poll_write_vectored(cx, bufs),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.as_ref().is_some_and(S::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().io() {
            Ok(io) => io.poll_flush(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.parked.is_some() {
            // hyper ends a parked connection as a closed one: the socket stays open.
            return Poll::Ready(Ok(()));
        }
        match this.io() {
            Ok(io) => io.poll_shutdown(cx),
            Err(error) => Poll::Ready(Err(error)),
        }
    }
}

/// Holds one unit of its listener's `sluicegate_downstream_connections_idle` while a
/// connection is parked.
#[derive(Debug)]
pub(crate) struct IdleCount(Option<Gauge>);

impl IdleCount {
    /// Counts a connection of `series`'s listener (none: not counted) as parked.
    pub(crate) fn new(series: Option<&ListenerSeries>) -> Self {
        Self(series.map(ListenerSeries::connection_parked))
    }
}

impl Drop for IdleCount {
    fn drop(&mut self) {
        if let Some(gauge) = &self.0 {
            gauge.decrement(1.0);
        }
    }
}

/// How a parked connection's wait ended.
#[derive(Debug)]
pub(crate) enum Woken<S> {
    /// The client sent these first bytes of its next head: serve on.
    Bytes(Parked<S>, Vec<u8>),
    /// Closed: keep-alive over, the client closed, or the listener drains.
    Closed,
    /// Dropped at once: the drain's deadline passed.
    Cut,
}

/// Waits, counted in `idle`, for `parked`'s next bytes; closes it when its keep-alive
/// ends, the client closes or `draining` resolves, drops it when `closing` does.
pub(crate) async fn wait<S>(
    mut parked: Parked<S>,
    idle: IdleCount,
    draining: impl Future<Output = ()>,
    closing: impl Future<Output = ()>,
) -> Woken<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::pin!(closing);
    let read = tokio::select! {
        read = next_bytes(&mut parked.stream, parked.until) => read,
        () = draining => None,
        () = &mut closing => return Woken::Cut,
    };
    drop(idle);
    match read {
        Some(read) => Woken::Bytes(parked, read),
        None => {
            // Closed as hyper closes a connection (a TLS stream's close_notify).
            tokio::select! {
                _ = parked.stream.shutdown() => Woken::Closed,
                () = closing => Woken::Cut,
            }
        }
    }
}

/// The first bytes a parked connection sends before `until`; `None` when it closes,
/// fails or sends nothing by then.
async fn next_bytes<S: AsyncRead + Unpin>(stream: &mut S, until: Instant) -> Option<Vec<u8>> {
    let mut first = [0u8; FIRST_READ];
    match tokio::time::timeout_at(until, stream.read(&mut first)).await {
        Ok(Ok(n)) if n > 0 => Some(first[..n].to_vec()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_parked_stream_is_handed_back_open_and_an_unparked_one_is_not() {
        let (mut client, server) = tokio::io::duplex(64);
        let parking = Arc::new(Parking::default());
        let mut stream = Parkable::new(server, parking.clone());
        let until = Instant::now() + Duration::from_secs(5);
        stream.park(3, until);
        stream.shutdown().await.unwrap();
        drop(stream);
        let mut parked = parking.take().unwrap();
        assert_eq!((parked.heads, parked.until), (3, until));
        // Not shut down: both directions still carry bytes.
        client.write_all(b"GET").await.unwrap();
        assert_eq!(next_bytes(&mut parked.stream, until).await.unwrap(), b"GET");
        parked.stream.write_all(b"ok").await.unwrap();
        let mut two = [0u8; 2];
        client.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ok");

        let parking = Arc::new(Parking::default());
        drop(Parkable::new(parked.stream, parking.clone()));
        assert!(parking.take().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_parked_connection_that_stays_silent_or_closes_gives_nothing() {
        let (client, mut server) = tokio::io::duplex(64);
        let until = Instant::now() + Duration::from_secs(5);
        assert!(next_bytes(&mut server, until).await.is_none());
        assert!(Instant::now() >= until);
        drop(client);
        assert!(
            next_bytes(&mut server, Instant::now() + PARK_AFTER)
                .await
                .is_none()
        );
    }
}
