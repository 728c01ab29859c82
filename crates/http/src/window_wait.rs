//! The send timeout of an HTTP/2 connection's streams (nginx's `send_timeout` per
//! stream, Envoy's `stream_idle_timeout`): a response that waits longer than the
//! listener's `send_timeout` for the client to grant it flow-control window ends
//! the connection, as a full socket does on the listener's send clock.
//!
//! The socket-level clock cannot see this: hyper's HTTP/2 client side keeps reading
//! the socket, so no write waits, while a stream whose window is spent is never
//! polled again (hyper asks h2 for capacity before it polls the body). Such a stream
//! would hold its backend connection, its in-flight count and h2's send buffer for
//! as long as the client likes (LIM-06).
//!
//! How a stall is seen, without a clock read on the data path:
//!
//! 1. Each response body of the connection holds a [`StreamWait`]
//!    ([`WindowWaits::watch`]): when it hands hyper a frame it says so (a count of
//!    frames, and a flag: waiting to be polled again), and when hyper polls it next it
//!    clears the flag. Two relaxed stores per frame. A new body is waiting from the
//!    start, until hyper first polls it: with no window at all it never does.
//! 2. [`WindowWaits::stalled`] runs beside the connection. While it has streams, it
//!    looks at them every [`SCANS`]th of the timeout: a stream seen waiting with the
//!    same count at `SCANS + 1` looks in a row waited the whole timeout since the
//!    first (between the timeout and a fourth more).
//! 3. It then resolves, and the connection is dropped: h2 fails every open stream,
//!    their bodies (and the backend connections behind them) are let go.
//!
//! A stream waiting for its backend is polled (hyper is waiting on it, not on the
//! client): the response body timeout bounds that. A body handed over whole (its
//! last frame given) is no longer watched. Without streams the watcher sleeps on a
//! notification, so an idle connection costs no timer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::Notify;

/// Looks at the streams per timeout: the cut comes at most a fourth of the timeout
/// late, for one timer wake-up every 15 s at the default minute.
const SCANS: u32 = 4;
/// The shortest wait between two looks, for a timeout set very short.
const MIN_PERIOD: Duration = Duration::from_millis(10);
/// The registry is swept of finished streams when it reaches this many entries
/// (then twice what is left): a connection has at most 100 streams open.
const FIRST_SWEEP: usize = 64;

/// The streams of one HTTP/2 connection, watched for a response waiting on the
/// client's window.
#[derive(Debug, Default)]
pub(crate) struct WindowWaits {
    registry: Mutex<Registry>,
    /// Woken when a stream is watched while none was.
    woken: Notify,
}

#[derive(Debug, Default)]
struct Registry {
    streams: Vec<Entry>,
    sweep_at: usize,
}

/// A watched stream, as the last look found it.
#[derive(Debug)]
struct Entry {
    state: Weak<AtomicU64>,
    last: u64,
    /// Looks in a row that found it waiting with the same count.
    unchanged: u32,
}

impl WindowWaits {
    /// Watches a new response body of the connection: waiting from the start, until
    /// hyper first polls it (with no window at all, it never does).
    pub(crate) fn watch(&self) -> StreamWait {
        let state = Arc::new(AtomicU64::new(1));
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        if registry.streams.len() >= registry.sweep_at {
            registry.streams.retain(|e| e.state.strong_count() > 0);
            registry.sweep_at = FIRST_SWEEP.max(2 * registry.streams.len());
        }
        let was_empty = registry.streams.is_empty();
        registry.streams.push(Entry {
            state: Arc::downgrade(&state),
            // No state: the first look only records what it finds.
            last: u64::MAX,
            unchanged: 0,
        });
        drop(registry);
        if was_empty {
            self.woken.notify_one();
        }
        StreamWait {
            state,
            frames: 0,
            waiting: true,
        }
    }

    /// Resolves once a stream has waited `timeout` for the client (see the module
    /// doc); never while none does.
    pub(crate) async fn stalled(&self, timeout: Duration) {
        let period = (timeout / SCANS).max(MIN_PERIOD);
        loop {
            if self.is_empty() {
                self.woken.notified().await;
                continue;
            }
            tokio::time::sleep(period).await;
            if self.look() {
                return;
            }
        }
    }

    fn is_empty(&self) -> bool {
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.streams.is_empty()
    }

    /// One look at every stream, forgetting the finished ones: whether one waited
    /// [`SCANS`] looks in a row.
    fn look(&self) -> bool {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let mut stalled = false;
        registry.streams.retain_mut(|entry| {
            let Some(state) = entry.state.upgrade() else {
                return false;
            };
            let now = state.load(Ordering::Relaxed);
            let waiting = now & 1 == 1;
            entry.unchanged = if waiting && now == entry.last {
                entry.unchanged + 1
            } else {
                0
            };
            entry.last = now;
            stalled |= entry.unchanged >= SCANS;
            true
        });
        stalled
    }
}

/// One response body's side of [`WindowWaits`].
#[derive(Debug)]
pub(crate) struct StreamWait {
    /// Frames handed over, times two, plus one while the last waits to be followed.
    state: Arc<AtomicU64>,
    frames: u64,
    waiting: bool,
}

impl StreamWait {
    /// hyper polls the body: it is not waiting on the client.
    pub(crate) fn polled(&mut self) {
        if std::mem::take(&mut self.waiting) {
            self.state.store(self.frames << 1, Ordering::Relaxed);
        }
    }

    /// The body handed hyper a frame and has more to come: until hyper polls it
    /// again, it waits for room to send (the client's window).
    pub(crate) fn handed(&mut self) {
        self.frames += 1;
        self.waiting = true;
        self.state.store(self.frames << 1 | 1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(4);

    #[tokio::test(start_paused = true)]
    async fn a_stream_never_polled_after_a_frame_stalls_at_the_timeout() {
        let waits = WindowWaits::default();
        let mut stream = waits.watch();
        stream.polled();
        stream.handed();
        let start = tokio::time::Instant::now();
        waits.stalled(TIMEOUT).await;
        let waited = start.elapsed();
        assert!(waited >= TIMEOUT, "{waited:?}");
        assert!(waited <= TIMEOUT + TIMEOUT / SCANS, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_never_polled_at_all_stalls_at_the_timeout() {
        let waits = WindowWaits::default();
        let _stream = waits.watch();
        let start = tokio::time::Instant::now();
        waits.stalled(TIMEOUT).await;
        let waited = start.elapsed();
        assert!(waited >= TIMEOUT, "{waited:?}");
        assert!(waited <= TIMEOUT + TIMEOUT / SCANS, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn streams_that_are_polled_again_or_wait_on_their_backend_never_stall() {
        let waits = WindowWaits::default();
        let (mut moving, mut backend) = (waits.watch(), waits.watch());
        // Polled, pending on its backend: not waiting on the client.
        backend.polled();
        let watcher = waits.stalled(TIMEOUT);
        tokio::pin!(watcher);
        for _ in 0..40 {
            moving.polled();
            moving.handed();
            let slept = tokio::time::sleep(TIMEOUT / 3);
            tokio::select! {
                () = &mut watcher => panic!("a moving stream was taken as stalled"),
                () = slept => {}
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn finished_streams_are_forgotten_and_a_new_one_wakes_the_watcher() {
        let waits = Arc::new(WindowWaits::default());
        for _ in 0..1000 {
            let mut done = waits.watch();
            done.handed();
        }
        let left = waits.registry.lock().map(|r| r.streams.len());
        assert!(left.is_ok_and(|n| n < 2 * FIRST_SWEEP));
        let watcher = tokio::spawn({
            let waits = waits.clone();
            async move { waits.stalled(TIMEOUT).await }
        });
        tokio::time::sleep(TIMEOUT * 3).await;
        assert!(
            !watcher.is_finished(),
            "finished streams stalled the connection"
        );
        let mut held = waits.watch();
        held.handed();
        tokio::time::sleep(TIMEOUT * 2).await;
        assert!(watcher.is_finished());
    }
}
