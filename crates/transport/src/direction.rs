//! One direction of a layer-4 session's copy, holding no buffer while it is idle:
//! each read lands in the worker thread's scratch buffer and is written on at once;
//! only what the writer cannot take now is copied into a buffer of the session's own,
//! freed as soon as it is written. An idle session (all that tens of thousands of
//! pooled database connections ever are) holds no copy buffer at all, where tokio's
//! `copy_bidirectional` holds two of 8 KiB for the session's whole life: measured at
//! 9,500 idle sessions, 17.2 KiB of RSS each with it (see `benches/BENCHMARKS.md`).
//!
//! The scratch buffer is borrowed only inside one `poll` call, never across an
//! `await`, so every session of a thread shares it safely. A direction may start
//! with bytes pending: what was read ahead of the copy (a ClientHello, what followed
//! a PROXY header) goes out first, the same way.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A read's most bytes: HAProxy's `tune.bufsize`. Also the most one direction holds
/// while its writer is full (it reads nothing more until that is written).
pub(crate) const READ_SIZE: usize = 16 * 1024;

thread_local! {
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_SIZE].into_boxed_slice());
}

/// Bytes read from one side, to be written to the other.
#[derive(Debug, Default)]
pub(crate) struct Direction {
    /// Read but not yet written (the writer was full); empty, holding no
    /// allocation, otherwise.
    pending: Bytes,
    /// Whether a write happened since the last flush.
    unflushed: bool,
    /// The reader said EOF.
    eof: bool,
    /// Bytes written.
    pub(crate) moved: u64,
}

impl Direction {
    /// A direction whose first bytes out are `pending`.
    pub(crate) fn starting_with(pending: Bytes) -> Self {
        Self {
            pending,
            ..Self::default()
        }
    }

    /// Copies from `reader` to `writer` until `reader`'s EOF has been passed on as a
    /// shutdown of `writer`.
    pub(crate) fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            ready!(self.poll_pending(cx, writer.as_mut()))?;
            if self.eof {
                if self.unflushed {
                    ready!(writer.as_mut().poll_flush(cx))?;
                    self.unflushed = false;
                }
                return writer.as_mut().poll_shutdown(cx);
            }
            let read = SCRATCH.with(|scratch| {
                let Ok(mut scratch) = scratch.try_borrow_mut() else {
                    // Unreachable (nothing polls a copy from inside a copy's poll);
                    // kept total rather than panicking in the data plane.
                    return Poll::Ready(Err(io::Error::other("scratch buffer busy")));
                };
                self.read_and_write(cx, reader.as_mut(), writer.as_mut(), &mut scratch)
            });
            match read {
                Poll::Ready(result) => result?,
                Poll::Pending => {
                    if self.unflushed {
                        ready!(writer.as_mut().poll_flush(cx))?;
                        self.unflushed = false;
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Writes what is pending, then lets its buffer go.
    fn poll_pending<W: AsyncWrite + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<()>> {
        if self.pending.is_empty() {
            return Poll::Ready(Ok(()));
        }
        while !self.pending.is_empty() {
            // At most what was offered, whatever the writer says: never a panic here.
            let n = ready!(writer.as_mut().poll_write(cx, &self.pending))?.min(self.pending.len());
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.advance(n);
            self.moved += n as u64;
            self.unflushed = true;
        }
        // Advanced to its end, it would still hold its buffer.
        self.pending = Bytes::new();
        Poll::Ready(Ok(()))
    }

    /// One read into `scratch`, written on at once; what the writer does not take is
    /// kept in `pending`. `Pending` only when the read is.
    fn read_and_write<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        reader: Pin<&mut R>,
        writer: Pin<&mut W>,
        scratch: &mut [u8],
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        let mut buf = ReadBuf::new(scratch);
        ready!(reader.poll_read(cx, &mut buf))?;
        let read = buf.filled();
        if read.is_empty() {
            self.eof = true;
            return Poll::Ready(Ok(()));
        }
        let written = match writer.poll_write(cx, read) {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => n.min(read.len()),
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => 0,
        };
        self.moved += written as u64;
        self.unflushed |= written > 0;
        if written < read.len() {
            self.pending = Bytes::copy_from_slice(&read[written..]);
        }
        Poll::Ready(Ok(()))
    }
}
