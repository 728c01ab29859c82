//! Idle detection for streams that carry no requests: [`Stamped`] wraps a stream and
//! notes when a byte last moved through it on an [`Activity`] clock that several
//! streams share; [`Activity::idle_for`] resolves once none moved for a while.
//!
//! A stamp is one clock read and one relaxed atomic store per read or write: no
//! timer is touched on the data path; the one sleeping task re-arms itself from the
//! last stamp when it wakes.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// When a byte last moved through any of the streams stamped on it.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    /// Milliseconds from `start` to the last stamp.
    last: AtomicU64,
}

impl Activity {
    /// A clock whose last activity is now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    /// Notes activity now.
    pub fn stamp(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// Resolves once no byte has moved for `limit`.
    pub async fn idle_for(&self, limit: Duration) {
        loop {
            let deadline = self.last() + limit;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

/// A stream that stamps its [`Activity`] whenever bytes are read or written.
#[derive(Debug)]
pub struct Stamped<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Stamped<S> {
    /// `inner`, stamping `activity`.
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Stamped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.stamp();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Stamped<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.stamp();
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn traffic_postpones_the_idle_end() {
        let activity = Activity::new();
        let (near, mut far) = tokio::io::duplex(64);
        let mut near = Stamped::new(near, activity.clone());
        let idle = activity.idle_for(Duration::from_secs(10));
        tokio::pin!(idle);
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(6)).await;
            near.write_all(b"x").await.unwrap();
            assert!(futures_poll(&mut idle).is_pending());
        }
        far.write_all(b"y").await.unwrap();
        let mut byte = [0u8; 1];
        near.read_exact(&mut byte).await.unwrap();
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(futures_poll(&mut idle).is_pending());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(futures_poll(&mut idle).is_ready());
    }

    fn futures_poll<F: std::future::Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        let waker = std::task::Waker::noop();
        Pin::new(future).poll(&mut Context::from_waker(waker))
    }
}
