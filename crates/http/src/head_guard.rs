//! The client connection as hyper reads it: every request head checked
//! ([`crate::head_check`]) before hyper sees a byte of it, bodies passed through
//! uncopied.
//!
//! Lifecycle of the bytes of one connection:
//! 1. Bytes are read straight into hyper's buffer and scanned there: a head that
//!    passes, and the body that its framing says follows (counted, or scanned by
//!    [`ChunkScan`]), stay where they are.
//! 2. A head that has not ended when the read does is cut from hyper's buffer and
//!    held here until it ends (re-checked only when a read brings a possible end of
//!    head, so a trickling client costs one pass over its bytes), or passes
//!    [`MAX_HEAD`] (refused at once).
//! 3. A refused head never reaches hyper. Whatever came before it does; then the
//!    [`Refusal`] is filed in the connection's [`Refusals`] under the number of the
//!    request it would have been, and hyper gets a stand-in request in its place,
//!    which the service answers with the refusal (closing the connection). After the
//!    stand-in, reads never complete: nothing the client sends later is handed on.
//!    When hyper then closes, the guard half-closes and reads and drops what the
//!    client still sends, until it closes too or [`LINGER`] passes (nginx's lingering
//!    close): closing a socket with unread bytes would send a reset, and a reset can
//!    destroy the answer before the client reads it.
//! 4. A chunked body hyper would reject leaves the rest of the connection unchecked
//!    here: hyper fails that request and closes the connection itself.
//! 5. A head that asks for an upgrade sluicegate honours ([`crate::upgrade::asks`]:
//!    HTTP/1.1, `Connection: upgrade`, an `Upgrade` protocol other than `h2c`, no
//!    body) is handed on, and **nothing after it**: the bytes that follow are held,
//!    unscanned, and nothing more is read, until the service decides
//!    ([`Upgrades`]). Answered plainly (no `101`), those bytes are scanned as the next
//!    head, exactly as if they had arrived after the answer, and the connection goes
//!    on as HTTP: the guard and hyper still agree on every head, since neither has
//!    looked past the upgrade head. Answered `101`, hyper gets nothing more at all;
//!    once hyper has written the `101` and let go, the tunnel reads the held bytes
//!    and then everything else straight from the socket, never scanned again: that
//!    is no longer HTTP. So no byte is ever both parsed as a request here and passed
//!    through as tunnel data, and nothing reaches a tunnel before the backend said
//!    `101`.
//!
//! 6. Every read that finds nothing to read asks the connection's [`HeadClock`]
//!    whether the wait has lasted too long (its own lifecycle: the head deadline,
//!    keep-alive, body reads). A head that timed out is refused like a bad one
//!    (408); an idle connection that timed out reads as closed, so hyper closes it
//!    quietly; a body read that timed out fails as timed out.
//!
//! This must agree with hyper on where every head starts; it follows hyper's framing
//! rules and is tested on heads and bodies split at every byte.

mod deadline;
mod linger;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

use crate::chunk_scan::{ChunkScan, Scanned};
use crate::head_check::{self, BodyFraming, Head, MAX_HEAD, Refusal};
use crate::head_clock::HeadClock;
use crate::park::Parkable;
use crate::refusals::Refusals;
use crate::upgrades::{Upgrades, Verdict};

/// What hyper reads in place of a refused head: a request that cannot be forwarded by
/// mistake (its host does not resolve), answered from [`Refusals`].
const STAND_IN: &[u8] = b"GET / HTTP/1.1\r\nhost: refused.invalid\r\n\r\n";
/// Bytes read at a time while a head is held (and while lingering).
const HELD_READ: usize = 4096;
/// What a body read that timed out fails with.
const BODY_TIMED_OUT: &str = "no request body bytes within request_body_timeout";

/// Where the next byte from the client falls.
#[derive(Debug)]
enum Position {
    /// At (or inside) a request head.
    Head,
    /// Inside a sized body, this many bytes left.
    Body(u64),
    /// Inside a chunked body.
    Chunked(ChunkScan),
    /// Past a body hyper rejects: hyper closes the connection, nothing is checked.
    Unchecked,
    /// The stand-in for a refused head is handed on (or being handed on).
    Refused,
    /// After an upgrade request's head: nothing is scanned or read until the service
    /// decides.
    Upgrade,
    /// Switched: every byte is handed on unscanned.
    Tunnel,
    /// Timed out waiting: reads end (hyper then closes).
    Closed,
}

/// How far a scan of new bytes got.
enum Scan {
    /// Every byte may go to hyper.
    All,
    /// The bytes from this offset are a head that has not ended.
    HeadFrom(usize),
    /// The head at this offset is refused.
    RefusedAt(usize, Refusal),
    /// The bytes from this offset follow an upgrade request's head: held.
    UpgradeAt(usize),
}

/// A client stream whose request heads are checked before hyper reads them.
#[derive(Debug)]
pub(crate) struct HeadGuard<S> {
    /// Parked by the clock's idle wait ([`crate::park`]).
    inner: Parkable<S>,
    position: Position,
    /// Bytes read but not yet handed on: an unfinished head, or the stand-in.
    held: Vec<u8>,
    /// How many bytes at the front of `held` may be handed on.
    ready: usize,
    /// Heads handed on so far (the number of the next request).
    heads: u64,
    refusals: Arc<Refusals>,
    upgrades: Arc<Upgrades>,
    clock: HeadClock,
    /// Set once a refused connection half-closed: until when it reads and drops.
    linger: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// Where a guard starts: a connection's first bytes, or the bytes that woke it from
/// parking ([`crate::park`]).
#[derive(Debug, Default)]
pub(crate) struct Start {
    /// Request heads the connection had before.
    pub(crate) heads: u64,
    /// Bytes already read from the client: the start of the next head.
    pub(crate) read: Vec<u8>,
}

impl<S> HeadGuard<S> {
    /// Guards `inner` from `start`; refusals are filed in `refusals`, held upgrade
    /// requests in `upgrades`; waits are bounded by `clock`.
    pub(crate) fn new(
        inner: Parkable<S>,
        start: Start,
        refusals: Arc<Refusals>,
        upgrades: Arc<Upgrades>,
        clock: HeadClock,
    ) -> Self {
        let mut guard = Self {
            inner,
            position: Position::Head,
            held: start.read,
            ready: 0,
            heads: start.heads,
            refusals,
            upgrades,
            clock,
            linger: None,
        };
        if !guard.held.is_empty() {
            guard.rescan();
        }
        guard
    }

    /// Refuses the held head as one that did not end within `header_read_timeout`
    /// (the in-task server's clock ran out before it handed the head over).
    pub(crate) fn refuse_timed_out(&mut self) {
        self.refuse(0, head_check::timed_out());
    }

    /// Scans `bytes`, the next bytes from the client, from the current position.
    fn scan(&mut self, bytes: &[u8]) -> Scan {
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            match &mut self.position {
                Position::Head => match head_check::check(rest) {
                    Ok(Head::Partial) => return Scan::HeadFrom(at),
                    Ok(Head::Complete { len, body, upgrade }) => {
                        at += len;
                        if !self.passed(body, upgrade) {
                            return Scan::UpgradeAt(at);
                        }
                    }
                    Err(refusal) => return Scan::RefusedAt(at, refusal),
                },
                Position::Body(left) => {
                    let take = usize::try_from(*left).unwrap_or(usize::MAX).min(rest.len());
                    at += take;
                    *left -= take as u64;
                    if *left == 0 {
                        self.position = Position::Head;
                    }
                }
                Position::Chunked(chunks) => match chunks.scan(rest) {
                    Scanned::More => at = bytes.len(),
                    Scanned::End(n) => {
                        at += n;
                        self.position = Position::Head;
                    }
                    Scanned::Invalid => self.position = Position::Unchecked,
                },
                Position::Unchecked
                | Position::Refused
                | Position::Upgrade
                | Position::Tunnel
                | Position::Closed => at = bytes.len(),
            }
        }
        Scan::All
    }

    /// Counts a head that passed and moves past it, to its body; `false` when it asks
    /// for an upgrade, whose answer what follows it waits for.
    fn passed(&mut self, body: BodyFraming, upgrade: bool) -> bool {
        self.clock.head_ended();
        if upgrade {
            // No body (`asks` says so).
            self.upgrades.hold(self.heads);
            self.heads += 1;
            self.position = Position::Upgrade;
            return false;
        }
        self.heads += 1;
        self.position = match body {
            BodyFraming::Length(0) => Position::Head,
            BodyFraming::Length(n) => Position::Body(n),
            BodyFraming::Chunked => Position::Chunked(ChunkScan::new()),
        };
        true
    }

    /// Scans the held bytes, which start at a head, and marks what may be handed on.
    fn rescan(&mut self) {
        let held = std::mem::take(&mut self.held);
        let scan = self.scan(&held);
        self.held = held;
        match scan {
            Scan::All => self.ready = self.held.len(),
            Scan::HeadFrom(at) | Scan::UpgradeAt(at) => self.ready = at,
            Scan::RefusedAt(at, refusal) => self.refuse(at, refusal),
        }
    }

    /// Files `refusal` for the next request and queues the stand-in after the first
    /// `keep` held bytes.
    fn refuse(&mut self, keep: usize, refusal: Refusal) {
        self.refusals.refuse(self.heads, refusal);
        self.held.truncate(keep);
        self.held.extend_from_slice(STAND_IN);
        self.ready = self.held.len();
        self.position = Position::Refused;
    }

    /// Hands held bytes that may go on to `out`.
    fn hand_on(&mut self, out: &mut ReadBuf<'_>) {
        let n = self.ready.min(out.remaining());
        out.put_slice(&self.held[..n]);
        self.held.drain(..n);
        self.ready -= n;
        if self.held.is_empty() && self.held.capacity() > HELD_READ {
            // A long head was held: do not keep its buffer for the connection's life.
            self.held = Vec::new();
        }
    }
}

impl<S: AsyncRead + Unpin> HeadGuard<S> {
    /// Reads into `out` directly and scans what came; cuts an unfinished head off
    /// `out` into `held`. Ready with nothing handed on only at end of stream.
    fn read_in_place(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<bool>> {
        let before = out.filled().len();
        std::task::ready!(Pin::new(&mut self.inner).poll_read(cx, out))?;
        let read = out.filled().len() - before;
        if read == 0 {
            return Poll::Ready(Ok(true));
        }
        let new = &out.filled()[before..];
        match self.scan(new) {
            Scan::All => {}
            Scan::HeadFrom(at) | Scan::UpgradeAt(at) => {
                self.held.extend_from_slice(&new[at..]);
                out.set_filled(before + at);
            }
            Scan::RefusedAt(at, refusal) => {
                out.set_filled(before + at);
                self.refuse(0, refusal);
            }
        }
        Poll::Ready(Ok(out.filled().len() > before))
    }

    /// Reads more of a held, unfinished head and checks it again when it may have
    /// ended. Ready once something may be handed on (or the stream ended).
    fn read_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let old = self.held.len();
            self.held.resize(old + HELD_READ, 0);
            let mut buf = ReadBuf::new(&mut self.held[old..]);
            let polled = Pin::new(&mut self.inner).poll_read(cx, &mut buf);
            let read = buf.filled().len();
            self.held.truncate(old + read);
            std::task::ready!(polled)?;
            if read == 0 {
                // The client went away mid-head: hyper sees what it sent, then the end.
                self.ready = self.held.len();
                self.position = Position::Unchecked;
                return Poll::Ready(Ok(()));
            }
            if !may_end_head(&self.held[old.saturating_sub(3)..]) {
                if self.held.len() > MAX_HEAD {
                    let refusal = head_check::check(&self.held).err();
                    self.refuse(0, refusal.unwrap_or_else(head_check::too_large));
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            self.rescan();
            if self.ready > 0 {
                return Poll::Ready(Ok(()));
            }
        }
    }

    /// Waits for the service's decision on the bytes after an upgrade request's
    /// head: scanned as the next head (a plain answer), or handed on as they are,
    /// and everything after them (the tunnel has opened).
    fn poll_switch(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match std::task::ready!(self.upgrades.poll_verdict(cx)) {
            Verdict::Tunnel => {
                self.position = Position::Tunnel;
                self.ready = self.held.len();
            }
            Verdict::Plain => {
                self.position = Position::Head;
                if !self.held.is_empty() {
                    self.rescan();
                }
            }
        }
        Poll::Ready(())
    }
}

/// Whether `bytes` hold the end of a head (an empty line), by hyper's own quick test.
pub(crate) fn may_end_head(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

impl<S: AsyncRead + Unpin> HeadGuard<S> {
    /// One read as hyper asks for it, without deadlines.
    fn poll_guarded(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.ready > 0 {
                self.hand_on(out);
                return Poll::Ready(Ok(()));
            }
            match self.position {
                // The stand-in is answered and the connection closed; read no more.
                Position::Refused => return Poll::Pending,
                Position::Upgrade => {
                    std::task::ready!(self.poll_switch(cx));
                    continue;
                }
                Position::Tunnel => return Pin::new(&mut self.inner).poll_read(cx, out),
                Position::Closed => return Poll::Ready(Ok(())),
                Position::Head | Position::Body(_) | Position::Chunked(_) | Position::Unchecked => {
                }
            }
            if !self.held.is_empty() {
                std::task::ready!(self.read_held(cx))?;
                continue;
            }
            if std::task::ready!(self.read_in_place(cx, out))? {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        match this.poll_guarded(cx, out) {
            Poll::Pending => this.poll_waited(cx, out),
            ready => {
                this.clock.moved();
                ready
            }
        }
    }
}
