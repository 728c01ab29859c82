//! A listener's `send_timeout` (nginx's `send_timeout`; HAProxy's `timeout client`
//! while it sends): a write to a client whose socket is full waits for the client to
//! take bytes, and that wait is bounded. A client that stops reading would otherwise
//! hold its response, the backend connection behind it and the in-flight count for
//! ever, with the kernel's buffers full on both sides (LIM-06). Past the timeout the
//! write fails with `TimedOut`, which ends whatever serves the connection (HTTP/1,
//! HTTP/2, a tunnel): the response is cut where it stands, the backend connection is
//! closed with its body, the connection closes and is counted
//! (`sluicegate_downstream_send_timeouts_total`).
//!
//! The wait is between two writes that move bytes, not for a whole response: a slow
//! reader that keeps taking bytes gets a large body in the end. Under the TLS layer,
//! so it bounds the writes of the socket itself (handshake, records, `close_notify`).
//!
//! Costs nothing while writes go through: the clock is read only when a write finds
//! the socket full, and the wait runs on one [`LazyTimer`] per connection, allocated
//! at the first full socket and kept armed between waits.
//!
//! Not seen here: an HTTP/2 client that keeps its socket drained but grants no
//! flow-control window holds its streams without a full socket. The HTTP/2 server
//! bounds that wait with the same timeout (`sluicegate_http`'s `window_wait.rs`).

use std::io;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use metrics::Counter;
use sluicegate_runtime::LazyTimer;
use tokio::time::Instant;

/// The send timeout of a connection whose listener the config no longer has (it was
/// removed between the accept and the look-up): the config's default.
pub(crate) const UNLISTED_SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// One connection's send timeout (see the module doc).
#[derive(Debug)]
pub(crate) struct SendClock {
    timeout: Duration,
    /// The end of the current wait: set when a write first finds the socket full,
    /// cleared when a write goes through.
    until: Option<Instant>,
    timer: LazyTimer,
    /// Counted once per connection, at the first write that timed out.
    timeouts: Counter,
    timed_out: bool,
}

impl SendClock {
    /// Writes wait at most `timeout` for the client; timeouts count in `timeouts`.
    pub(crate) fn new(timeout: Duration, timeouts: Counter) -> Self {
        Self {
            timeout,
            until: None,
            timer: LazyTimer::default(),
            timeouts,
            timed_out: false,
        }
    }

    /// What a write on the socket gave, bounded: pending while the wait
    /// for the client lasts, then `TimedOut`.
    pub(crate) fn bound<T>(
        &mut self,
        polled: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.until = None;
            return polled;
        }
        let until = *self
            .until
            .get_or_insert_with(|| Instant::now() + self.timeout);
        ready!(self.timer.poll_passed(cx, until));
        if !std::mem::replace(&mut self.timed_out, true) {
            self.timeouts.increment(1);
            tracing::debug!(
                "client took no bytes for {:?}: connection closed",
                self.timeout
            );
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the client took no bytes for {:?} (send_timeout)",
                self.timeout
            ),
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    fn clock() -> SendClock {
        SendClock::new(Duration::from_secs(2), Counter::noop())
    }

    /// A write that found the socket full, bounded once.
    async fn full_once(clock: &mut SendClock) -> Poll<io::Result<usize>> {
        poll_fn(|cx| Poll::Ready(clock.bound(Poll::Pending, cx))).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_waiting_past_the_timeout_fails_as_timed_out() {
        let mut clock = clock();
        let start = Instant::now();
        assert!(full_once(&mut clock).await.is_pending());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(full_once(&mut clock).await.is_pending());
        let failed = poll_fn(|cx| clock.bound(Poll::<io::Result<usize>>::Pending, cx)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        let error = failed.err().map(|e| e.kind());
        assert_eq!(error, Some(io::ErrorKind::TimedOut));
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_goes_through_starts_the_next_wait_afresh() {
        let mut clock = clock();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(full_once(&mut clock).await.is_pending());
            tokio::time::advance(Duration::from_millis(1500)).await;
            let wrote = poll_fn(|cx| Poll::Ready(clock.bound(Poll::Ready(Ok(10)), cx))).await;
            assert!(matches!(wrote, Poll::Ready(Ok(10))));
        }
        let failed = poll_fn(|cx| clock.bound(Poll::<io::Result<usize>>::Pending, cx)).await;
        assert!(failed.is_err());
        assert_eq!(start.elapsed(), Duration::from_millis(6500));
    }
}
