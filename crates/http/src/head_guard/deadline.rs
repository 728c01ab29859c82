//! The guard's deadlines: what a read that found nothing waits for, and what
//! happens when that wait lasts past its limit ([`crate::head_clock`]).

use std::io;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::{BODY_TIMED_OUT, HeadGuard, Position};
use crate::head_check;
use crate::head_clock::{Expired, Wait};

impl<S: AsyncRead + Unpin> HeadGuard<S> {
    /// What a read that found nothing waits for ([`crate::head_clock`]'s lifecycle):
    /// nothing while a request is being answered (woken when it is), a tunnel runs or hyper closes.
    pub(super) fn waiting(&self, cx: &mut Context<'_>) -> Option<Wait> {
        match self.position {
            Position::Head if !self.clock.all_answered(cx, self.heads) => None,
            Position::Head if self.held.is_empty() && self.heads > 0 => Some(Wait::Idle),
            Position::Head => Some(Wait::Head),
            Position::Body(_) | Position::Chunked(_) => Some(Wait::Body),
            _ => None,
        }
    }

    /// Ends a wait that lasted past its limit; `Pending` until then.
    pub(super) fn poll_waited(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let kind = self.waiting(cx);
        match std::task::ready!(self.clock.poll_expired(cx, kind)) {
            Expired::Waited(Wait::Head) if !self.held.is_empty() => {
                self.refuse(0, head_check::timed_out());
                self.hand_on(out);
                Poll::Ready(Ok(()))
            }
            Expired::Waited(Wait::Head | Wait::Idle) => {
                self.position = Position::Closed;
                Poll::Ready(Ok(()))
            }
            Expired::Park { until } => {
                // hyper reads the end of the stream and lets go of it unshut.
                self.inner.park(self.heads, until);
                self.position = Position::Closed;
                Poll::Ready(Ok(()))
            }
            Expired::Waited(Wait::Body) => {
                self.position = Position::Closed;
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, BODY_TIMED_OUT);
                Poll::Ready(Err(timed_out))
            }
        }
    }
}
