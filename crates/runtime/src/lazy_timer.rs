//! One timer per connection, kept for the connection's life and re-armed only when it
//! fires early: the deadlines of the in-task client's exchanges (response head, then
//! each wait for body bytes) and of a client connection's stalled writes.
//!
//! Why not `tokio::time::timeout` around each wait: that timer is registered in
//! tokio's wheel at its first poll and taken out again (under the driver's lock)
//! when it is dropped, for every request, though a response nearly always comes
//! long before it: ~1,100 instructions a request under callgrind
//! (`benches/instructions.sh`). Here the first wait arms the timer at its
//! deadline; later waits only name theirs, which is later, and the timer is
//! moved on to it when it fires for an old one (at most once per timeout, the way
//! the http crate's `head_clock.rs` treats a client connection's waits). So a wait
//! costs one poll of a timer that is already in the wheel.
//!
//! Between waits the timer stays armed; when it fires then, it wakes the task
//! that last polled it, which finds nothing to do. Dropped with its connection.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::time::{Instant, Sleep};

/// One connection's timer (see the module doc).
#[derive(Debug, Default)]
pub struct LazyTimer {
    /// Boxed: `Sleep` must stay pinned while the connection moves (between stacks and
    /// response bodies, for the in-task client's).
    sleep: Option<Pin<Box<Sleep>>>,
}

impl LazyTimer {
    /// Ready once `deadline` has passed; pending (with the task woken then) before.
    pub fn poll_passed(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() > deadline {
            // Sooner than the one armed (a shorter timeout, or a reload shortened it): tokio
            // re-registers it.
            sleep.as_mut().reset(deadline);
        }
        loop {
            ready!(sleep.as_mut().poll(cx));
            if sleep.deadline() >= deadline {
                return Poll::Ready(());
            }
            // It fired for an earlier wait's deadline: on to this one's.
            sleep.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn passed(timer: &mut LazyTimer, deadline: Instant) {
        std::future::poll_fn(|cx| timer.poll_passed(cx, deadline)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn each_deadline_is_kept_though_the_timer_was_armed_for_an_earlier_one() {
        let mut timer = LazyTimer::default();
        let start = Instant::now();
        passed(&mut timer, start + Duration::from_secs(1)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // Armed for 1 s, then asked for 3 s from the start: it waits to 3 s.
        passed(&mut timer, start + Duration::from_secs(3)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_later_exchange_moves_the_timer_on_only_when_it_fires() {
        let mut timer = LazyTimer::default();
        let start = Instant::now();
        // A first exchange arms it at 10 s and ends (its response came) at once.
        let first = std::future::poll_fn(|cx| {
            assert!(
                timer
                    .poll_passed(cx, start + Duration::from_secs(10))
                    .is_pending()
            );
            Poll::Ready(())
        });
        first.await;
        tokio::time::advance(Duration::from_secs(5)).await;
        // The next one's deadline is 15 s: the 10 s firing does not end it.
        passed(&mut timer, start + Duration::from_secs(15)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(15));
    }

    #[tokio::test(start_paused = true)]
    async fn a_sooner_deadline_than_the_one_armed_is_kept() {
        let mut timer = LazyTimer::default();
        let start = Instant::now();
        let first = std::future::poll_fn(|cx| {
            assert!(
                timer
                    .poll_passed(cx, start + Duration::from_secs(30))
                    .is_pending()
            );
            Poll::Ready(())
        });
        first.await;
        passed(&mut timer, start + Duration::from_secs(2)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
