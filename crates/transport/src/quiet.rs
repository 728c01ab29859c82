//! A future polled only when it asked to be: [`Quiet`] wraps the drain signals an
//! HTTP connection selects on next to hyper's connection future, and a layer-4
//! session's stop ([`crate::CopySession`]).
//!
//! `select!` polls every branch each time the task wakes, and a connection's task
//! wakes several times per request (the client's bytes, the backend's answer), a
//! session's at every read and write. The drain signals are `watch` receivers: each
//! poll of a pending one takes its waiter list's lock to re-register, twice (server
//! and listener), for a signal that fires once in the connection's life (for a
//! session at `wrk -c 1000`, a quarter of the proxy's user-space samples under
//! perf). Wrapped, a poll that its own waker did not ask for costs one atomic waker
//! registration and one flag read.
//!
//! [`LazyQuiet`] makes its `Quiet` on its first poll: the closing signal is polled
//! only by a drain, a parked connection or a tunnel, so most connections end without
//! its two allocations.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use futures_util::task::AtomicWaker;

/// `inner`, polled only on its first poll and after it woke its waker.
pub struct Quiet<F> {
    inner: Pin<Box<F>>,
    signal: Arc<Signal>,
    /// The waker `inner` is polled with: it raises `signal` and wakes the task.
    waker: Waker,
    polled: bool,
}

/// Raised by `inner`'s waker; remembers the task to wake.
#[derive(Default)]
struct Signal {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl<F: Future> Quiet<F> {
    /// Wraps `inner`.
    pub fn new(inner: F) -> Self {
        let signal = Arc::new(Signal::default());
        Self {
            inner: Box::pin(inner),
            waker: Waker::from(signal.clone()),
            signal,
            polled: false,
        }
    }
}

impl<F> std::fmt::Debug for Quiet<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quiet")
            .field("polled", &self.polled)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for Quiet<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // Registered before the flag is read: a wake between the two polls us again.
        this.signal.task.register(cx.waker());
        if this.polled && !this.signal.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        this.polled = true;
        this.inner
            .as_mut()
            .poll(&mut Context::from_waker(&this.waker))
    }
}

/// A [`Quiet`] made from `make` on its first poll.
pub struct LazyQuiet<M, F> {
    make: Option<M>,
    quiet: Option<Quiet<F>>,
}

impl<M: FnOnce() -> F, F: Future> LazyQuiet<M, F> {
    /// The `Quiet` of `make()`, made when first polled.
    pub fn new(make: M) -> Self {
        Self {
            make: Some(make),
            quiet: None,
        }
    }
}

impl<M: FnOnce() -> F + Unpin, F: Future> Future for LazyQuiet<M, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if let Some(make) = this.make.take() {
            this.quiet = Some(Quiet::new(make()));
        }
        match &mut this.quiet {
            Some(quiet) => Pin::new(quiet).poll(cx),
            // Never: made just above on the first poll.
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// Counts its polls, and waits for `open` to be set.
    async fn gate(polls: Arc<AtomicUsize>, mut open: tokio::sync::watch::Receiver<bool>) {
        let mut waiting = Box::pin(async move {
            let _ = open.wait_for(|o| *o).await;
        });
        std::future::poll_fn(|cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            waiting.as_mut().poll(cx)
        })
        .await;
    }

    #[tokio::test]
    async fn a_lazy_quiet_makes_its_future_on_its_first_poll() {
        let (tx, open) = tokio::sync::watch::channel(false);
        let (made, polls) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counter = made.clone();
        let lazy = LazyQuiet::new(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            gate(polls, open)
        });
        assert_eq!(
            made.load(Ordering::Relaxed),
            0,
            "nothing made before a poll"
        );
        tokio::pin!(lazy);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(lazy.as_mut().poll(&mut cx).is_pending());
        assert!(lazy.as_mut().poll(&mut cx).is_pending());
        assert_eq!(
            made.load(Ordering::Relaxed),
            1,
            "made once, on the first poll"
        );
        tx.send_replace(true);
        let ready = tokio::time::timeout(Duration::from_secs(10), lazy).await;
        assert!(ready.is_ok(), "it ends when its future does");
    }

    #[tokio::test]
    async fn polls_the_inner_future_only_when_it_woke() {
        let (tx, open) = tokio::sync::watch::channel(false);
        let polls = Arc::new(AtomicUsize::new(0));
        let mut quiet = Quiet::new(gate(polls.clone(), open));
        let noop = Waker::noop();
        let mut cx = Context::from_waker(noop);
        for _ in 0..100 {
            assert!(Pin::new(&mut quiet).poll(&mut cx).is_pending());
        }
        assert_eq!(
            polls.load(Ordering::Relaxed),
            1,
            "polled only once while not woken"
        );
        tx.send_replace(true);
        let ready = tokio::time::timeout(Duration::from_secs(10), quiet).await;
        assert!(
            ready.is_ok(),
            "the wake reached the task and the inner future ended"
        );
        assert_eq!(polls.load(Ordering::Relaxed), 2);
    }
}
