//! The deadlines of an HTTP/1 client connection while it is waited for: kept by its
//! head guard ([`crate::head_guard`]), which sees every read hyper asks for, rather
//! than by hyper, whose head timer is set and dropped for every request.
//!
//! Lifecycle of one connection's waits (each starts at the first read that finds
//! nothing to read, and ends when bytes come, except where said):
//! 1. **Accepted**: the first head's deadline, `header_read_timeout`, runs from the
//!    accept (as nginx's `client_header_timeout` and HAProxy's
//!    `timeout http-request` run from accept). Past it with nothing received the
//!    connection is closed without an answer (nginx, and HAProxy's
//!    `http-ignore-probes`: a browser's pre-opened connection is not an error); with
//!    part of a head received, as in step 2.
//! 2. **In a head**: part of a head came and the rest has not; the deadline is
//!    `header_read_timeout` from then and bytes do **not** move it (a client
//!    trickling one byte under every per-read gap is still cut); past it the client
//!    gets 408 and the connection closes.
//! 3. **Busy**: every head handed to hyper has not had its response finished (each
//!    response body holds the connection's [`Responses`] and counts itself out when it
//!    is dropped). No deadline: the cluster's response timeout bounds the backend,
//!    and hyper's reads meanwhile only watch for the client closing.
//! 4. **Kept alive, idle**: every response finished, nothing of the next head; past
//!    `keepalive_timeout` the connection is closed without an answer.
//! 5. **In a body**: hyper asked for body bytes and none came; past
//!    `request_body_timeout` the read fails as timed out, which fails the request
//!    (408 when nothing was answered yet, see `send.rs`).
//!
//! 6. **Draining**: the listener drains (SIGTERM, a reload removing it, a binary
//!    upgrade). A connection waiting for its next head is not closed at once: a
//!    busy keep-alive client sends its next request the moment it read an answer,
//!    and closing under it cuts that request (an empty read or a reset, which wrk
//!    counts as an error and a client without retries fails). Every wait for a
//!    head (steps 1, 2 and 4) is held to [`DRAIN_GRACE`] instead: a connection idle
//!    that long already is closed at once, one idle only a moment gets its next
//!    request answered, with `Connection: close`. HAProxy before 2.4, and its
//!    `idle-close-on-response` since, do the same.
//!
//! Cost on the request path: one clock read when a wait starts; one timer per
//! connection, allocated at its first wait and re-armed only when it fires before
//! the deadline now wanted (a later deadline waits for the old one to fire first).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use tokio::time::{Instant, Sleep};

/// How long a draining connection waits for its next head (lifecycle step 6): the
/// parking delay's second, past which a connection is idle, not between two
/// requests of a client sending them back to back.
pub const DRAIN_GRACE: Duration = crate::park::PARK_AFTER;

/// A client connection's limits, as its listener sets them when it is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// Time without a new request before the connection is closed.
    pub keepalive: Duration,
    /// HTTP/1: the total time for one request head (and for the first one to begin).
    pub header_read: Duration,
    /// HTTP/1: the longest wait for the next bytes of a request body.
    pub request_body: Duration,
    /// HTTP/2: the longest a response may wait for the client to grant it window
    /// (the listener's `send_timeout`, which bounds full sockets too).
    pub send: Duration,
}

impl Default for ClientTimeouts {
    /// The config's defaults (for connections that no listener configures).
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(60),
            header_read: Duration::from_secs(30),
            request_body: Duration::from_secs(60),
            send: Duration::from_secs(60),
        }
    }
}

/// Responses of one connection whose bodies hyper has let go of, and the guard's
/// read waiting for the last of them: hyper drops a body after its last read of the
/// socket came back empty, and reads again only when the socket wakes it, so the
/// keep-alive wait must be woken from here.
#[derive(Debug, Default)]
pub(crate) struct Responses {
    finished: AtomicU64,
    reader: AtomicWaker,
}

impl Responses {
    /// A response of the connection is over (its body was dropped).
    pub(crate) fn finish(&self) {
        self.finished.fetch_add(1, Ordering::Release);
        self.reader.wake();
    }

    fn finished(&self) -> u64 {
        self.finished.load(Ordering::Acquire)
    }
}

/// What the connection is waited for: the step of the lifecycle above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Step 4: nothing of the next head.
    Idle,
    /// Steps 1 and 2: the (rest of a) head.
    Head,
    /// Step 5: the next bytes of a body.
    Body,
}

/// What a wait that lasted long enough comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expired {
    /// The wait of this kind passed its limit.
    Waited(Wait),
    /// Idle for the parking delay, its keep-alive running `until`: park the
    /// connection ([`crate::park`]).
    Park {
        /// When the keep-alive wait ends.
        until: Instant,
    },
}

/// The deadlines of one connection (module doc).
#[derive(Debug)]
pub(crate) struct HeadClock {
    limits: ClientTimeouts,
    /// How long an idle connection waits before it is parked (`None`: never).
    park_after: Option<Duration>,
    responses: Arc<Responses>,
    /// The wait running and when it started.
    wait: Option<(Wait, Instant)>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl HeadClock {
    /// The clock of a connection accepted at `accepted` with `limits`, whose response
    /// bodies count themselves in `responses`.
    pub(crate) fn new(
        limits: ClientTimeouts,
        responses: Arc<Responses>,
        accepted: Instant,
    ) -> Self {
        Self {
            limits,
            park_after: None,
            responses,
            wait: Some((Wait::Head, accepted)),
            sleep: None,
        }
    }

    /// The same clock, parking its connection once idle for `after` (when that is
    /// shorter than the keep-alive limit).
    pub(crate) fn parking_after(mut self, after: Duration) -> Self {
        self.park_after = Some(after);
        self
    }

    /// Whether every one of `heads` handed on has had its response finished; when not,
    /// the task of `cx` is woken once another one is.
    pub(crate) fn all_answered(&self, cx: &mut Context<'_>, heads: u64) -> bool {
        if self.responses.finished() >= heads {
            return true;
        }
        self.responses.reader.register(cx.waker());
        // Finished between the check and the registration: its wake found no waker.
        self.responses.finished() >= heads
    }

    /// The listener drains (lifecycle step 6): every wait for a head is held to
    /// [`DRAIN_GRACE`], and an idle connection is no longer parked.
    pub(crate) fn drain(&mut self) {
        self.limits.keepalive = self.limits.keepalive.min(DRAIN_GRACE);
        self.limits.header_read = self.limits.header_read.min(DRAIN_GRACE);
        self.park_after = None;
    }

    /// Bytes came: an idle or body wait is over (a head's deadline stays).
    pub(crate) fn moved(&mut self) {
        if !matches!(self.wait, Some((Wait::Head, _))) {
            self.wait = None;
        }
    }

    /// A head ended: its deadline is over.
    pub(crate) fn head_ended(&mut self) {
        self.wait = None;
    }

    /// Called when a read found nothing: `Ready` once the wait for `kind` (`None`:
    /// not waited for) has lasted past its limit, or an idle one long enough to park.
    pub(crate) fn poll_expired(
        &mut self,
        cx: &mut Context<'_>,
        kind: Option<Wait>,
    ) -> Poll<Expired> {
        let Some(kind) = kind else {
            self.wait = None;
            return Poll::Pending;
        };
        let since = match self.wait {
            Some((running, since)) if running == kind => since,
            _ => {
                let now = Instant::now();
                self.wait = Some((kind, now));
                now
            }
        };
        let limit = match kind {
            Wait::Idle => self.limits.keepalive,
            Wait::Head => self.limits.header_read,
            Wait::Body => self.limits.request_body,
        };
        let park = self
            .park_after
            .filter(|after| kind == Wait::Idle && *after < limit);
        let (deadline, expired) = match park {
            Some(after) => (
                since + after,
                Expired::Park {
                    until: since + limit,
                },
            ),
            None => (since + limit, Expired::Waited(kind)),
        };
        std::task::ready!(self.poll_deadline(cx, deadline));
        self.wait = None;
        Poll::Ready(expired)
    }

    /// `Ready` once `deadline` has passed; otherwise the timer wakes the task by then.
    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            if sleep.deadline() > deadline {
                sleep.as_mut().reset(deadline);
            }
            match sleep.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) if Instant::now() >= deadline => return Poll::Ready(()),
                // An earlier wait's deadline: re-armed for this one.
                Poll::Ready(()) => sleep.as_mut().reset(deadline),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> (HeadClock, Arc<Responses>) {
        let limits = ClientTimeouts {
            keepalive: Duration::from_secs(60),
            header_read: Duration::from_secs(30),
            request_body: Duration::from_secs(10),
            send: Duration::from_secs(60),
        };
        let responses = Arc::new(Responses::default());
        let accepted = Instant::now();
        (
            HeadClock::new(limits, responses.clone(), accepted),
            responses,
        )
    }

    fn poll(clock: &mut HeadClock, kind: Option<Wait>) -> Poll<Expired> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        clock.poll_expired(&mut cx, kind)
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_deadline_is_total_bytes_do_not_move_it() {
        let (mut clock, _) = clock();
        assert_eq!(poll(&mut clock, Some(Wait::Head)), Poll::Pending);
        for _ in 0..29 {
            tokio::time::advance(Duration::from_secs(1)).await;
            clock.moved();
            assert_eq!(poll(&mut clock, Some(Wait::Head)), Poll::Pending);
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            poll(&mut clock, Some(Wait::Head)),
            Poll::Ready(Expired::Waited(Wait::Head))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_holds_waits_for_a_head_to_its_grace_and_never_parks() {
        let (clock, _) = clock();
        let mut clock = clock.parking_after(Duration::from_millis(500));
        assert_eq!(poll(&mut clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_millis(300)).await;
        clock.drain();
        // Idle for 0.3 s: the next request may be on its way, so it waits.
        assert_eq!(poll(&mut clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_millis(300)).await;
        assert_eq!(poll(&mut clock, Some(Wait::Idle)), Poll::Pending, "parked");
        tokio::time::advance(DRAIN_GRACE - Duration::from_millis(600)).await;
        let closed = Poll::Ready(Expired::Waited(Wait::Idle));
        assert_eq!(poll(&mut clock, Some(Wait::Idle)), closed);
        // A body is not a head: its own limit stays.
        assert_eq!(poll(&mut clock, Some(Wait::Body)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(poll(&mut clock, Some(Wait::Body)), Poll::Pending);
    }

    #[tokio::test(start_paused = true)]
    async fn body_and_idle_waits_restart_when_bytes_come() {
        let (mut clock, _) = clock();
        assert_eq!(poll(&mut clock, Some(Wait::Body)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(9)).await;
        clock.moved();
        assert_eq!(poll(&mut clock, Some(Wait::Body)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(poll(&mut clock, Some(Wait::Body)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            poll(&mut clock, Some(Wait::Body)),
            Poll::Ready(Expired::Waited(Wait::Body))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_wait_has_its_own_limit_and_a_new_kind_starts_afresh() {
        let (mut clock, _) = clock();
        assert_eq!(poll(&mut clock, Some(Wait::Head)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(20)).await;
        clock.head_ended();
        assert_eq!(poll(&mut clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(poll(&mut clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            poll(&mut clock, Some(Wait::Idle)),
            Poll::Ready(Expired::Waited(Wait::Idle))
        );
        // A switch of kind without bytes (a body after its head) restarts too.
        assert_eq!(poll(&mut clock, Some(Wait::Body)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(poll(&mut clock, Some(Wait::Body)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            poll(&mut clock, Some(Wait::Body)),
            Poll::Ready(Expired::Waited(Wait::Body))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_connection_is_not_waited_for_and_a_later_deadline_re_arms() {
        let (mut clock, responses) = clock();
        assert_eq!(poll(&mut clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(50)).await;
        // A request in flight: hours pass without a deadline.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(!clock.all_answered(&mut cx, 1));
        assert_eq!(poll(&mut clock, None), Poll::Pending);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(poll(&mut clock, None), Poll::Pending);
        responses.finish();
        assert!(clock.all_answered(&mut cx, 1));
        // The old timer fired long ago; the new wait gets its whole minute.
        assert_eq!(poll(&mut clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(poll(&mut clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            poll(&mut clock, Some(Wait::Idle)),
            Poll::Ready(Expired::Waited(Wait::Idle))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_parks_before_its_keepalive_ends_and_others_do_not() {
        let mut late = clock().0.parking_after(Duration::from_secs(120));
        let mut parking = clock().0.parking_after(Duration::from_secs(1));
        let clock = &mut parking;
        assert_eq!(poll(clock, Some(Wait::Head)), Poll::Pending);
        clock.head_ended();
        let idle = Instant::now();
        assert_eq!(poll(clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(poll(clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_millis(1)).await;
        let until = idle + Duration::from_secs(60);
        assert_eq!(
            poll(clock, Some(Wait::Idle)),
            Poll::Ready(Expired::Park { until })
        );
        // Heads and bodies keep their own limits.
        assert_eq!(poll(clock, Some(Wait::Body)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert_eq!(poll(clock, Some(Wait::Body)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(
            poll(clock, Some(Wait::Body)),
            Poll::Ready(Expired::Waited(Wait::Body))
        );
        // A keep-alive limit under the parking delay closes instead.
        let clock = &mut late;
        clock.head_ended();
        assert_eq!(poll(clock, Some(Wait::Idle)), Poll::Pending);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(
            poll(clock, Some(Wait::Idle)),
            Poll::Ready(Expired::Waited(Wait::Idle))
        );
    }
}
