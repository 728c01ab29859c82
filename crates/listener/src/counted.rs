//! A client connection that counts the bytes it reads and writes, and stays counted
//! as open until it is dropped.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use metrics::{Counter, Gauge};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Wraps a stream; every successful read and write adds to the listener's counters.
#[derive(Debug)]
pub(crate) struct Counted<S> {
    inner: S,
    received: Counter,
    sent: Counter,
    /// `sluicegate_downstream_connections_active`, decremented on drop.
    active: Gauge,
}

impl<S> Counted<S> {
    /// `inner`, counted into `received`/`sent`, holding one unit of `active`.
    pub(crate) fn new(inner: S, (received, sent): (Counter, Counter), active: Gauge) -> Self {
        Self {
            inner,
            received,
            sent,
            active,
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
        polled
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
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
