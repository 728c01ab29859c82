//! [`Upgrades`]: how a connection's head guard ([`crate::head_guard`]) and its service
//! agree on the bytes after the head of a request that asks for an upgrade
//! ([`crate::upgrade::asks`]).
//!
//! The guard holds those bytes ([`Upgrades::hold`]) and reads nothing more until the
//! service decides. The service takes the request's [`Ticket`] first thing
//! ([`Upgrades::ticket`]); answering plainly drops it, and the guard reads the held
//! bytes as the next request head. Answering `101` turns it into an [`Opener`]
//! ([`Ticket::switched`]): from then on hyper reads nothing, and once hyper has
//! written the `101` and let go of the connection, the tunnel opens it
//! ([`Opener::open`]) and the guard hands on every byte unparsed, for good.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// One connection's upgrade in waiting (there is at most one: the guard reads no
/// further until it is decided).
#[derive(Debug, Default)]
pub(crate) struct Upgrades {
    state: Mutex<State>,
    /// Whether a head is held (`State::held` is `Some`): read before the lock, so a
    /// request that asks for no upgrade (nearly every one) takes no lock.
    holding: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    /// The number (from 0) of the request whose head is held, until its ticket is
    /// taken.
    held: Option<u64>,
    decision: Decision,
    /// The guard's reader, woken when the decision changes.
    waker: Option<Waker>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Decision {
    /// Nothing held, or the service has not answered.
    #[default]
    Waiting,
    /// Answered plainly: the held bytes are the next request's.
    Plain,
    /// Answered `101`: hyper must read nothing more.
    Switched,
    /// The tunnel reads: hand on everything unparsed.
    Open,
}

/// What the guard does with the bytes after a held head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Read them as the next request.
    Plain,
    /// Hand them on unparsed, and everything after them.
    Tunnel,
}

impl Upgrades {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The guard holds what follows the head of request `index`, an upgrade request,
    /// until its ticket is decided.
    pub(crate) fn hold(&self, index: u64) {
        let mut state = self.state();
        state.held = Some(index);
        state.decision = Decision::Waiting;
        self.holding.store(true, Ordering::Release);
    }

    /// The verdict on the held bytes; pending (and woken later) until there is one.
    pub(crate) fn poll_verdict(&self, cx: &mut Context<'_>) -> Poll<Verdict> {
        let mut state = self.state();
        match state.decision {
            Decision::Plain => {
                state.decision = Decision::Waiting;
                Poll::Ready(Verdict::Plain)
            }
            Decision::Open => Poll::Ready(Verdict::Tunnel),
            Decision::Waiting | Decision::Switched => {
                if !state
                    .waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    state.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// The ticket of request `index` (from 0) if the guard holds what follows its
    /// head; taken once. The service must take it before anything else, so that it is
    /// decided whatever the answer.
    pub(crate) fn ticket(self: &Arc<Self>, index: u64) -> Option<Ticket> {
        if !self.holding.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.state();
        if state.held != Some(index) || state.decision != Decision::Waiting {
            return None;
        }
        state.held = None;
        self.holding.store(false, Ordering::Release);
        Some(Ticket {
            upgrades: self.clone(),
            switched: false,
        })
    }

    fn decide(&self, decision: Decision) {
        let waker = {
            let mut state = self.state();
            state.decision = decision;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The service's side of a held upgrade request: dropped, it lets the guard read on
/// (the request was answered plainly).
#[derive(Debug)]
pub(crate) struct Ticket {
    upgrades: Arc<Upgrades>,
    switched: bool,
}

impl Ticket {
    /// The answer is a `101`: hyper reads nothing more; the returned [`Opener`] hands
    /// the connection's bytes to the tunnel.
    pub(crate) fn switched(mut self) -> Opener {
        self.switched = true;
        self.upgrades.decide(Decision::Switched);
        Opener {
            upgrades: self.upgrades.clone(),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.switched {
            self.upgrades.decide(Decision::Plain);
        }
    }
}

/// Opens a switched connection to its tunnel. Dropped unopened (the tunnel never
/// started), the connection stays closed to every reader: it is about to close.
#[derive(Debug)]
pub(crate) struct Opener {
    upgrades: Arc<Upgrades>,
}

impl Opener {
    /// hyper has let go of the connection: every byte goes to the tunnel now.
    pub(crate) fn open(self) {
        self.upgrades.decide(Decision::Open);
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    fn poll(upgrades: &Upgrades) -> Poll<Verdict> {
        upgrades.poll_verdict(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_plain_answer_lets_the_guard_read_on() {
        let upgrades = Arc::new(Upgrades::default());
        upgrades.hold(3);
        assert!(poll(&upgrades).is_pending());
        assert!(upgrades.ticket(2).is_none(), "another request's ticket");
        let ticket = upgrades.ticket(3);
        assert!(ticket.is_some());
        assert!(upgrades.ticket(3).is_none(), "taken once");
        assert!(poll(&upgrades).is_pending());
        drop(ticket);
        assert_eq!(poll(&upgrades), Poll::Ready(Verdict::Plain));
        assert!(poll(&upgrades).is_pending(), "nothing held any more");
    }

    #[test]
    fn a_switch_reads_nothing_until_the_tunnel_opens() {
        let upgrades = Arc::new(Upgrades::default());
        upgrades.hold(0);
        let opener = upgrades.ticket(0).map(Ticket::switched);
        assert!(
            poll(&upgrades).is_pending(),
            "hyper must not read after a 101"
        );
        opener.into_iter().for_each(Opener::open);
        assert_eq!(poll(&upgrades), Poll::Ready(Verdict::Tunnel));
        assert_eq!(poll(&upgrades), Poll::Ready(Verdict::Tunnel));
    }
}
