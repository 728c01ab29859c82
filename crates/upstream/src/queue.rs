//! The line in front of a backend at its `max_connections`: a request takes one of
//! the backend's permits (one per connection allowed), waiting in arrival order when
//! none is free, as HAProxy queues at a server's `maxconn` and Envoy at its circuit
//! breakers. The wait is bounded two ways: at most `max_pending` requests wait at
//! once (past it a request is refused at once: [`SendError::QueueFull`]), and none
//! waits longer than `queue_timeout` ([`SendError::QueueTimeout`]). Either is a
//! request that was not sent, so it may go to another backend; the client of a
//! request that cannot gets 503 with `Retry-After` (http's status module).
//!
//! A free permit is taken without touching the count of waiters or any timer: the
//! queue costs nothing until the backend is saturated. Each request that had to wait
//! is counted (`kind="queued"`, Envoy's `upstream_cx_overflow`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sluicegate_metrics::LazyCounter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tokio::time::Instant;

use crate::send_error::SendError;

/// A backend's connection limit and the queue in front of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Connections open at once (`max_connections`).
    pub connections: u32,
    /// Requests waiting at once (`max_pending`); 0: none waits.
    pub max_pending: u32,
    /// Longest wait (`queue_timeout`).
    pub queue_timeout: Duration,
}

/// The permits of one backend and its line of waiting requests.
#[derive(Debug)]
pub(crate) struct Permits {
    pub(crate) limit: Limit,
    semaphore: Arc<Semaphore>,
    waiting: AtomicU32,
    queued: LazyCounter,
}

/// Takes a waiter out of the count when its wait ends, however it ends.
struct Waiting<'a>(&'a AtomicU32);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Permits {
    /// Permits for `limit`; each request that has to wait is counted in `queued`.
    pub(crate) fn new(limit: Limit, queued: LazyCounter) -> Self {
        Self {
            limit,
            semaphore: Arc::new(Semaphore::new(limit.connections as usize)),
            waiting: AtomicU32::new(0),
            queued,
        }
    }

    /// A permit: at once if one is free, else after a wait in line bounded by the
    /// queue timeout and the request's `deadline` (its response timeout).
    pub(crate) async fn acquire(
        &self,
        deadline: Instant,
    ) -> Result<OwnedSemaphorePermit, SendError> {
        match self.semaphore.clone().try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            // Never closed; a closed semaphore would only lift the limit.
            Err(TryAcquireError::Closed) => return Err(SendError::QueueFull),
            Err(TryAcquireError::NoPermits) => {}
        }
        let before = self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        if before >= self.limit.max_pending {
            return Err(SendError::QueueFull);
        }
        self.queued.increment(1);
        let wait = self.semaphore.clone().acquire_owned();
        let queue_end = Instant::now() + self.limit.queue_timeout;
        match tokio::time::timeout_at(queue_end.min(deadline), wait).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(SendError::QueueFull),
            Err(_) if deadline <= queue_end => Err(SendError::TimedOut),
            Err(_) => Err(SendError::QueueTimeout(self.limit.queue_timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response deadline past every queue timeout here.
    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    fn permits(connections: u32, max_pending: u32) -> Arc<Permits> {
        let limit = Limit {
            connections,
            max_pending,
            queue_timeout: Duration::from_secs(1),
        };
        Arc::new(Permits::new(limit, LazyCounter::default()))
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_connections_requests_wait_in_line_up_to_max_pending() {
        let permits = permits(1, 1);
        let held = permits.acquire(far()).await.unwrap();
        let waiter = tokio::spawn({
            let permits = permits.clone();
            async move { permits.acquire(far()).await.map(drop) }
        });
        tokio::task::yield_now().await;
        // One waits: the next is refused at once.
        assert!(matches!(
            permits.acquire(far()).await,
            Err(SendError::QueueFull)
        ));
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
        assert_eq!(permits.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_at_the_queue_timeout() {
        let permits = permits(1, 10);
        let _held = permits.acquire(far()).await.unwrap();
        let started = tokio::time::Instant::now();
        let waited = permits.acquire(far()).await;
        assert!(matches!(waited, Err(SendError::QueueTimeout(_))));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(permits.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_deadline_before_the_queue_timeout_ends_the_wait_first() {
        let permits = permits(1, 10);
        let _held = permits.acquire(far()).await.unwrap();
        let started = Instant::now();
        let waited = permits.acquire(started + Duration::from_millis(300)).await;
        assert!(matches!(waited, Err(SendError::TimedOut)));
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        assert_eq!(permits.waiting.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn with_max_pending_zero_nothing_waits() {
        let permits = permits(1, 0);
        let _held = permits.acquire(far()).await.unwrap();
        assert!(matches!(
            permits.acquire(far()).await,
            Err(SendError::QueueFull)
        ));
    }
}
