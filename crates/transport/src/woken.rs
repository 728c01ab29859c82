//! A future polled only after it asked to be: [`Woken`] hands its inner future a
//! waker of its own, which notes the wake before waking the task, and skips the
//! inner poll (one atomic swap) when no wake was noted.
//!
//! Why: a layer-4 session's stop (the listener's drain ran out) is a wait on two
//! watch channels, and the session's task is woken by every byte that moves. Polled
//! with each of those wakes, the stop took a quarter of the proxy's user-space CPU
//! under `wrk -c 1000` (perf: tokio's `Notified` locks its waiter list at each poll),
//! for a signal that comes once in a session's life, if ever.
//!
//! Every poll registers the task's waker ([`AtomicWaker`]: one compare-and-swap, no
//! clone when it is the same waker) before it looks at the flag, so a wake from
//! another thread between the two is never lost: it finds the waker registered, or
//! the flag is seen.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use atomic_waker::AtomicWaker;
use pin_project_lite::pin_project;

/// What the inner future's waker does: note the wake, wake the task.
#[derive(Debug)]
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

pin_project! {
    /// `inner`, polled at the first poll and then only after it woke its waker.
    #[derive(Debug)]
    pub(crate) struct Woken<F> {
        #[pin]
        inner: F,
        signal: Arc<Signal>,
    }
}

impl<F> Woken<F> {
    pub(crate) fn new(inner: F) -> Self {
        let signal = Signal {
            // The first poll polls the inner future: it registers its waker then.
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        };
        Self {
            inner,
            signal: Arc::new(signal),
        }
    }
}

impl<F: Future> Future for Woken<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        // Registered first: a wake after the flag is read finds the task's waker.
        this.signal.task.register(cx.waker());
        if !this.signal.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let waker = Waker::from(Arc::clone(this.signal));
        this.inner.poll(&mut Context::from_waker(&waker))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Counts its polls; ready once `open` is set, waking its waker when told to.
    struct Gate {
        polls: Arc<AtomicUsize>,
        open: Arc<AtomicBool>,
        waker: Arc<Mutex<Option<Waker>>>,
    }

    impl Future for Gate {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.open.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn the_inner_future_is_polled_once_then_only_when_it_woke() {
        let (polls, open) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let waker = Arc::new(Mutex::new(None::<Waker>));
        let gate = Gate {
            polls: polls.clone(),
            open: open.clone(),
            waker: waker.clone(),
        };
        let mut woken = Box::pin(Woken::new(gate));
        let noop = Waker::noop();
        let mut cx = Context::from_waker(noop);
        for _ in 0..10 {
            assert!(woken.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(
            polls.load(Ordering::SeqCst),
            1,
            "polled again without a wake"
        );
        // Opened and woken from another task: the session's task is woken, and its
        // next poll is ready.
        open.store(true, Ordering::SeqCst);
        let wake = waker.lock().unwrap().take().unwrap();
        tokio::spawn(async move { wake.wake() }).await.unwrap();
        assert!(woken.as_mut().poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_wake_reaches_the_task_that_awaits() {
        let (polls, open) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let waker = Arc::new(Mutex::new(None::<Waker>));
        let gate = Gate {
            polls,
            open: open.clone(),
            waker: waker.clone(),
        };
        let task = tokio::spawn(Woken::new(gate));
        while waker.lock().unwrap().is_none() {
            tokio::task::yield_now().await;
        }
        open.store(true, Ordering::SeqCst);
        let wake = waker.lock().unwrap().take().unwrap();
        wake.wake();
        tokio::time::timeout(std::time::Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
    }
}
