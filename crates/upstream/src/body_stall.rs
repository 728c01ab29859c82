//! The wait for a response body's next bytes, bounded by the cluster's
//! `response_body_timeout` (nginx's `proxy_read_timeout` between two reads, HAProxy's
//! `timeout server`): once a response head has come, a backend that stops sending its
//! body must not hold the client, the backend connection and the in-flight count for
//! ever. Each read that finds nothing starts a wait of the timeout (bytes arriving end
//! it); past it the body fails with [`stalled`], which cuts the client's response
//! visibly (HTTP/1: its connection closes short; HTTP/2: the stream is reset), and the
//! backend connection is closed with the body.
//!
//! Costs nothing while bytes are already there (most bodies come with their head):
//! the clock is read only when a read finds nothing, and the wait runs on the
//! connection's [`LazyTimer`], which stays armed from one wait to the next.

use std::io;
use std::task::{Context, Poll};
use std::time::Duration;

use sluicegate_runtime::LazyTimer;
use tokio::time::Instant;

/// A body's stall bound and the wait going on (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct BodyStall {
    /// `None`: unbounded (a body nobody has given a timeout yet).
    timeout: Option<Duration>,
    /// The end of the current wait: set when a read first finds nothing, cleared when
    /// bytes come.
    until: Option<Instant>,
}

impl BodyStall {
    /// A bound of `timeout` between reads, no wait started.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            until: None,
        }
    }

    /// Bytes came (or the body ended): the next wait starts afresh.
    pub(crate) fn progressed(&mut self) {
        self.until = None;
    }

    /// A read found nothing: ready (with the error to end the body with) once nothing
    /// has come for the timeout; pending, with the task woken then, before.
    pub(crate) fn poll_stalled(
        &mut self,
        timer: &mut LazyTimer,
        cx: &mut Context<'_>,
    ) -> Poll<io::Error> {
        let Some(timeout) = self.timeout else {
            return Poll::Pending;
        };
        let until = *self.until.get_or_insert_with(|| Instant::now() + timeout);
        timer.poll_passed(cx, until).map(|()| stalled(timeout))
    }
}

/// The error a stalled body ends with.
pub(crate) fn stalled(timeout: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("the backend sent no body bytes for {timeout:?} (response_body_timeout)"),
    )
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    /// Polls `stall` once as a read that found nothing would.
    async fn poll_once(stall: &mut BodyStall, timer: &mut LazyTimer) -> Poll<io::Error> {
        poll_fn(|cx| Poll::Ready(stall.poll_stalled(timer, cx))).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_at_the_timeout_from_its_first_empty_read() {
        let (mut stall, mut timer) = (BodyStall::new(Duration::from_secs(2)), LazyTimer::default());
        let start = Instant::now();
        assert!(poll_once(&mut stall, &mut timer).await.is_pending());
        tokio::time::advance(Duration::from_secs(1)).await;
        // A second empty read does not move the deadline.
        assert!(poll_once(&mut stall, &mut timer).await.is_pending());
        let error = poll_fn(|cx| stall.poll_stalled(&mut timer, cx)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            error.to_string().contains("response_body_timeout"),
            "{error}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_arriving_start_the_next_wait_afresh() {
        let (mut stall, mut timer) = (BodyStall::new(Duration::from_secs(2)), LazyTimer::default());
        let start = Instant::now();
        for _ in 0..3 {
            assert!(poll_once(&mut stall, &mut timer).await.is_pending());
            tokio::time::advance(Duration::from_millis(1500)).await;
            stall.progressed();
        }
        // 4.5 s in, never 2 s without bytes: the last wait runs from here.
        poll_fn(|cx| stall.poll_stalled(&mut timer, cx)).await;
        assert_eq!(start.elapsed(), Duration::from_millis(6500));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_timeout_a_wait_never_ends() {
        let (mut stall, mut timer) = (BodyStall::default(), LazyTimer::default());
        assert!(poll_once(&mut stall, &mut timer).await.is_pending());
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(poll_once(&mut stall, &mut timer).await.is_pending());
    }
}
