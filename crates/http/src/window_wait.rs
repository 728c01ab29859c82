//! The send timeout of an HTTP/2 connection's streams: a response that waits longer
//! than the listener's `send_timeout` for the client to grant it flow-control window
//! ends the connection, as a full socket does on the listener's send clock. nginx's
//! `send_timeout` and Envoy's `stream_idle_timeout` reset only that stream; hyper
//! offers no way to reset one stream from outside, so here every stream of the
//! connection is cut with it (a client that holds one stream still is stalling
//! itself; a well-behaved one opens a new connection).
//!
//! The socket-level clock cannot see this: the client keeps reading the socket, so no
//! write waits, while a stream whose window is spent is not polled again (hyper holds
//! the frame it has until h2 gives it room). Such a stream would hold its backend
//! connection, its in-flight count and h2's send buffer for as long as the client
//! likes (LIM-06).
//!
//! How a stall is seen, without a clock read on the data path:
//!
//! 1. Each response body of the connection holds a [`StreamWait`], a slot of the
//!    connection's fixed table ([`WindowWaits::watch`]: no allocation, no lock):
//!    when it hands hyper a frame it says so (a count of frames, and a flag: waiting
//!    to be polled again), and when hyper polls it next it clears the flag. Two
//!    relaxed stores per frame. The last frame too: hyper drops the body once that
//!    frame is sent, which gives the slot back. A body handed to hyper waits from
//!    then until hyper first polls it (hyper 1.12 polls before it asks for room;
//!    earlier versions asked first, and with no window never polled).
//! 2. [`WindowWaits::stalled`] runs in a task of its own ([`watch`]). While the
//!    connection has streams, it looks at them every [`SCANS`]th of the timeout: a
//!    stream seen waiting with the same count at `SCANS + 1` looks in a row waited
//!    the whole timeout since the first (between the timeout and a fourth more).
//! 3. It then fires the connection's [`Stalled`], and the connection is dropped: h2
//!    fails every open stream, their bodies (and the backend connections behind
//!    them) are let go.
//!
//! The watcher is a task, not a branch polled beside hyper's connection, because a
//! `select!` polls every branch at each of the connection's wake-ups: a timer there
//! cost 270 instructions a request (callgrind, h2load over HTTP/2). [`Stalled`] costs
//! an atomic load per poll.
//!
//! A stream waiting for its backend is polled (hyper is waiting on it, not on the
//! client): the response body timeout bounds that. Not watched: the tail of a last
//! frame hyper passed to h2 in part (it drops the body then) waits in h2's buffer;
//! the keep-alive close bounds that (`serve.rs`: a connection gracefully closed for
//! want of requests is dropped if its streams take longer than this timeout to end).
//! Without streams the watcher sleeps on a notification, so an idle connection costs
//! no timer.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::task::AbortOnDropHandle;

/// Looks at the streams per timeout: the cut comes at most a fourth of the timeout
/// late, for one timer wake-up every 15 s at the default minute.
const SCANS: u32 = 4;
/// The shortest wait between two looks, for a timeout set very short.
const MIN_PERIOD: Duration = Duration::from_millis(10);
/// Slots for watched bodies: above the 100 streams a client may have open
/// (`h2_limits.rs`), with room for bodies hyper has not dropped yet. A body that
/// finds none free goes unwatched (the socket's send clock still bounds it).
const SLOTS: usize = 128;
const WORDS: usize = SLOTS / 64;
/// Each claim of a slot starts its count this far past the last one, so a look does
/// not take a new body in a reused slot for the old one (until 2^24 claims wrap,
/// and then only at the same count between two looks).
const CLAIM_STRIDE: u64 = 1 << 40;

/// The streams of one HTTP/2 connection, watched for a response waiting on the
/// client's window: a fixed table of slots, so watching a body allocates nothing
/// and takes no lock.
#[derive(Debug)]
pub(crate) struct WindowWaits {
    /// Per slot: the body's count (two per frame handed over, from its claim's
    /// start), plus one while the last frame waits to be followed.
    slots: [AtomicU64; SLOTS],
    /// Which slots a body holds.
    used: [AtomicU64; WORDS],
    /// Where the next claim starts its count.
    claims: AtomicU64,
    /// Set while the watcher sleeps for want of streams; the next body wakes it.
    asleep: AtomicBool,
    woken: Notify,
}

impl Default for WindowWaits {
    fn default() -> Self {
        Self {
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
            used: std::array::from_fn(|_| AtomicU64::new(0)),
            claims: AtomicU64::new(0),
            asleep: AtomicBool::new(false),
            woken: Notify::new(),
        }
    }
}

impl WindowWaits {
    /// A slot for a new response body of the connection (not waiting until it is
    /// handed to hyper: [`StreamWait::handed_over`]); `None` when every slot is held.
    pub(crate) fn watch(self: &Arc<Self>) -> Option<StreamWait> {
        let slot = self.claim()?;
        let count = self.claims.fetch_add(CLAIM_STRIDE, Ordering::Relaxed);
        self.slots[slot].store(count, Ordering::Relaxed);
        // Only a sleeping watcher is notified: one awake finds the body at its next
        // look (a notification a request cost 20 instructions). Sequentially
        // consistent, with the claim and the watcher's side: each side writes, then
        // reads what the other wrote, and one of them must see the other's write.
        if self.asleep.load(Ordering::SeqCst) && self.asleep.swap(false, Ordering::SeqCst) {
            self.woken.notify_one();
        }
        Some(StreamWait {
            waits: self.clone(),
            slot,
            count,
            waiting: false,
        })
    }

    fn claim(&self) -> Option<usize> {
        for (word, used) in self.used.iter().enumerate() {
            let mut bits = used.load(Ordering::Relaxed);
            while bits != u64::MAX {
                let bit = (!bits).trailing_zeros();
                match used.compare_exchange_weak(
                    bits,
                    bits | 1 << bit,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return Some(word * 64 + bit as usize),
                    Err(now) => bits = now,
                }
            }
        }
        None
    }

    fn release(&self, slot: usize) {
        self.used[slot / 64].fetch_and(!(1 << (slot % 64)), Ordering::AcqRel);
    }

    fn is_empty(&self) -> bool {
        self.used.iter().all(|w| w.load(Ordering::SeqCst) == 0)
    }

    /// Resolves once a stream has waited `timeout` for the client (see the module
    /// doc); never while none does.
    pub(crate) async fn stalled(&self, timeout: Duration) {
        let period = (timeout / SCANS).max(MIN_PERIOD);
        // Per slot, what the last look found and how many looks in a row found it
        // waiting unchanged; `u64::MAX`: nothing yet, the next look only records.
        let mut seen = [(u64::MAX, 0u32); SLOTS];
        loop {
            if self.is_empty() {
                self.asleep.store(true, Ordering::SeqCst);
                // A body watched before the flag was up did not notify: look again.
                if self.is_empty() {
                    self.woken.notified().await;
                }
                self.asleep.store(false, Ordering::Release);
                continue;
            }
            tokio::time::sleep(period).await;
            if self.look(&mut seen) {
                return;
            }
        }
    }

    /// One look at every held slot: whether one waited [`SCANS`] looks in a row.
    fn look(&self, seen: &mut [(u64, u32); SLOTS]) -> bool {
        let mut stalled = false;
        for (slot, (last, unchanged)) in seen.iter_mut().enumerate() {
            let held = self.used[slot / 64].load(Ordering::Acquire) & 1 << (slot % 64) != 0;
            let now = if held {
                self.slots[slot].load(Ordering::Relaxed)
            } else {
                u64::MAX
            };
            let waiting = held && now & 1 == 1;
            *unchanged = if waiting && now == *last {
                *unchanged + 1
            } else {
                0
            };
            *last = now;
            stalled |= *unchanged >= SCANS;
        }
        stalled
    }
}

/// Starts watching a connection's streams for `timeout`: the registry its response
/// bodies are watched in, the signal the connection polls beside hyper's (ready once
/// a stream waited `timeout`), and the watcher's task, aborted when dropped (when the
/// connection ends).
pub(crate) fn watch(timeout: Duration) -> (Arc<WindowWaits>, Stalled, AbortOnDropHandle<()>) {
    let waits = Arc::new(WindowWaits::default());
    let signal = Arc::new(Signal::default());
    let task = tokio::spawn({
        let (waits, signal) = (waits.clone(), signal.clone());
        async move {
            waits.stalled(timeout).await;
            signal.fire();
        }
    });
    let stalled = Stalled {
        signal,
        waker: None,
    };
    (waits, stalled, AbortOnDropHandle::new(task))
}

/// Set by the watcher, read by the connection.
#[derive(Debug, Default)]
struct Signal {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Signal {
    fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Ready once a stream of the connection waited the send timeout for the client.
#[derive(Debug)]
pub(crate) struct Stalled {
    signal: Arc<Signal>,
    /// The waker last handed to the watcher: handed again only when the task
    /// polling changes, so a poll is one load and a pointer comparison.
    waker: Option<Waker>,
}

impl Future for Stalled {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.fired.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            let waker = cx.waker().clone();
            *self
                .signal
                .waker
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(waker.clone());
            self.waker = Some(waker);
            // Fired meanwhile: it found no waker, or the one it took was stale.
            if self.signal.fired.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    }
}

/// One response body's slot in [`WindowWaits`], given back when dropped.
#[derive(Debug)]
pub(crate) struct StreamWait {
    waits: Arc<WindowWaits>,
    slot: usize,
    /// Even: two per frame handed over.
    count: u64,
    waiting: bool,
}

impl StreamWait {
    /// The body is handed to hyper: it waits until hyper first polls it.
    pub(crate) fn handed_over(&mut self) {
        self.waiting = true;
        self.store();
    }

    /// hyper polls the body: it is not waiting on the client.
    pub(crate) fn polled(&mut self) {
        if std::mem::take(&mut self.waiting) {
            self.store();
        }
    }

    /// The body handed hyper a frame: until hyper polls it again (or, after its last,
    /// drops it), it waits for room to send (the client's window).
    pub(crate) fn handed(&mut self) {
        self.count = self.count.wrapping_add(2);
        self.waiting = true;
        self.store();
    }

    fn store(&self) {
        let state = self.count | u64::from(self.waiting);
        self.waits.slots[self.slot].store(state, Ordering::Relaxed);
    }
}

impl Drop for StreamWait {
    fn drop(&mut self) {
        self.waiting = false;
        self.store();
        self.waits.release(self.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(4);

    /// A watched body, handed to hyper.
    fn handed_over(waits: &Arc<WindowWaits>) -> StreamWait {
        let mut stream = waits.watch().unwrap_or_else(|| panic!("no free slot"));
        stream.handed_over();
        stream
    }

    async fn stalls_within_its_timeout(waits: &WindowWaits) {
        let start = tokio::time::Instant::now();
        waits.stalled(TIMEOUT).await;
        let waited = start.elapsed();
        assert!(waited >= TIMEOUT, "{waited:?}");
        assert!(waited <= TIMEOUT + TIMEOUT / SCANS, "{waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_never_polled_after_a_frame_stalls_at_the_timeout() {
        let waits = Arc::new(WindowWaits::default());
        let mut stream = handed_over(&waits);
        stream.polled();
        stream.handed();
        stalls_within_its_timeout(&waits).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_never_polled_at_all_stalls_at_the_timeout() {
        let waits = Arc::new(WindowWaits::default());
        let _stream = handed_over(&waits);
        stalls_within_its_timeout(&waits).await;
    }

    #[tokio::test(start_paused = true)]
    async fn the_watcher_task_fires_the_connections_signal() {
        let (waits, stalled, _task) = watch(TIMEOUT);
        let _stream = handed_over(&waits);
        let start = tokio::time::Instant::now();
        stalled.await;
        assert!(start.elapsed() >= TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn streams_moving_waiting_on_their_backend_or_not_handed_over_never_stall() {
        let waits = Arc::new(WindowWaits::default());
        let mut moving = handed_over(&waits);
        // Polled, pending on its backend: not waiting on the client.
        let mut backend = handed_over(&waits);
        backend.polled();
        // A response head still on its way: its body not handed to hyper yet.
        let _unsent = waits.watch();
        let watcher = waits.stalled(TIMEOUT);
        tokio::pin!(watcher);
        for _ in 0..40 {
            moving.polled();
            moving.handed();
            let slept = tokio::time::sleep(TIMEOUT / 3);
            tokio::select! {
                () = &mut watcher => panic!("a stream not waiting on the client stalled"),
                () = slept => {}
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_given_back_and_taken_again_is_a_new_stream() {
        let waits = Arc::new(WindowWaits::default());
        let watcher = tokio::spawn({
            let waits = waits.clone();
            async move { waits.stalled(TIMEOUT).await }
        });
        // Body after body, each in the same slot, each waiting a third of the
        // timeout and then dropped: no one waited the timeout.
        for _ in 0..12 {
            let stream = handed_over(&waits);
            assert_eq!(stream.slot, 0);
            tokio::time::sleep(TIMEOUT / 3).await;
            drop(stream);
        }
        assert!(!watcher.is_finished(), "short waits added up to a stall");
        // With none left the watcher sleeps; a new body wakes it.
        tokio::time::sleep(TIMEOUT * 3).await;
        let _held = handed_over(&waits);
        tokio::time::sleep(TIMEOUT * 2).await;
        assert!(watcher.is_finished());
    }

    #[test]
    fn every_slot_can_be_held_and_the_next_body_goes_unwatched() {
        let waits = Arc::new(WindowWaits::default());
        let held: Vec<_> = (0..SLOTS).filter_map(|_| waits.watch()).collect();
        assert_eq!(held.len(), SLOTS);
        assert!(waits.watch().is_none());
        drop(held);
        assert!(waits.is_empty());
        assert!(waits.watch().is_some());
    }
}
