//! A client connection that counts the bytes it reads and writes, stays counted as
//! open until it is dropped, and bounds each wait to write by the listener's send
//! timeout (`send_timeout.rs`).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use metrics::{Counter, Gauge};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::send_timeout::SendClock;

/// Wraps a stream; every successful read and write adds to the listener's counters.
#[derive(Debug)]
pub(crate) struct Counted<S> {
    inner: S,
    received: Counter,
    sent: Counter,
    /// `sluicegate_downstream_connections_active`, decremented on drop.
    active: Gauge,
    send: SendClock,
}

impl<S> Counted<S> {
    /// `inner`, counted into `received`/`sent`, holding one unit of `active`, its
    /// writes bounded by `send`.
    pub(crate) fn new(
        inner: S,
        (received, sent): (Counter, Counter),
        active: Gauge,
        send: SendClock,
    ) -> Self {
        Self {
            inner,
            received,
            sent,
            active,
            send,
        }
    }

    /// The stream counted.
    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> Drop for Counted<S> {
    fn drop(&mut self) {
        self.active.decrement(1.0);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let read = buf.filled().len().saturating_sub(before);
            if read > 0 {
                this.received.increment(read as u64);
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.sent.increment(n as u64);
        }
        this.send.bound(polled, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.sent.increment(n as u64);
        }
        this.send.bound(polled, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    /// Not bounded: a socket's flush does not wait (the bytes wait in `poll_write`),
    /// and a flush that moved nothing must not end a wait.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
