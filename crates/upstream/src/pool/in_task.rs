//! The pool's side of the in-task client (`direct.rs`): taking an idle connection
//! or opening one, the exchange by the response deadline, and the response body that
//! owns the connection until it ends. In a module of its own so `pool.rs` keeps to
//! hyper's client and the rules both share.

use std::sync::Arc;

use http::Response;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::{Inner, OpenCount, Pool, SendBody};
use crate::direct::{Conn, DirectBody, ExchangeError, GiveBack};
use crate::lease::Lease;
use crate::outgoing::Outgoing;
use crate::send_error::{SendError, SendFailure};
use crate::spare_maps;
use crate::upstream_body::UpstreamBody;

impl<B: SendBody> Pool<B> {
    /// `send` for a request the in-task client carries: the connection is written
    /// and read in this task (on worker `here`'s stack first) until `deadline`, and
    /// the response body owns it (with `permit`) until the body ends, so the lease
    /// holds nothing.
    pub(super) async fn send_direct(
        &self,
        mut request: Box<Outgoing<B>>,
        mut permit: Option<OwnedSemaphorePermit>,
        (here, deadline): (usize, Instant),
    ) -> Result<(Response<UpstreamBody>, Lease<B>), SendFailure<Outgoing<B>>> {
        loop {
            let (mut conn, home, reused) = match self.inner.checkout_direct(here) {
                Some((conn, home)) => (conn, home, true),
                // Boxed for the reason `send_hyper` boxes its connect; bounded by the
                // deadline too, as the whole send is.
                None => {
                    let connect = Box::pin(self.inner.connect_direct());
                    match tokio::time::timeout_at(deadline, connect).await {
                        Ok(Ok(conn)) => (conn, here, false),
                        Ok(Err(error)) => return Err(SendFailure::unsent(error, request)),
                        Err(_) => return Err(SendFailure::sent(SendError::TimedOut)),
                    }
                }
            };
            let head = match conn.exchange(&request, deadline).await {
                Ok(head) => head,
                // Closed while idle, before a byte went out: the next one.
                Err(ExchangeError::Unwritten(_)) if reused => continue,
                Err(ExchangeError::Unwritten(error)) => {
                    return Err(SendFailure::unsent(SendError::Direct(error), request));
                }
                Err(ExchangeError::Closed(error)) if reused => {
                    return Err(SendFailure::stale_given_back(error, request));
                }
                Err(ExchangeError::Closed(error) | ExchangeError::Failed(error)) => {
                    return Err(SendFailure::sent(SendError::Direct(error)));
                }
                Err(ExchangeError::TimedOut) => {
                    return Err(SendFailure::sent(SendError::TimedOut));
                }
            };
            let back = GiveBack {
                stacks: Arc::downgrade(&self.inner.direct),
                // A worker index fits; were it not to, the stack is not found and
                // the connection is closed rather than kept.
                home: u32::try_from(home).unwrap_or(u32::MAX),
                reuse: head.keep_alive,
                permit: permit.take(),
            };
            // Written: its map can hold the next head parsed on this thread.
            spare_maps::give(std::mem::take(request.request.headers_mut()));
            let body = DirectBody::new(head.framing, conn, back);
            let response = Response::from_parts(head.parts, UpstreamBody::Direct(body));
            return Ok((response, Lease::detached()));
        }
    }
}

impl<B: SendBody> Inner<B> {
    /// An idle in-task connection and the stack it came from, as [`Self::checkout`].
    fn checkout_direct(&self, here: usize) -> Option<(Box<Conn>, usize)> {
        self.checkout_from(here, self.direct.len(), |at| self.direct.pop(at))
    }

    /// A new connection for the in-task client, counted in `open` while it lives.
    async fn connect_direct(&self) -> Result<Box<Conn>, SendError> {
        let open = OpenCount::new(&self.open);
        let stream = self.connector.connect(false).await?;
        Ok(Conn::new(stream, open, self.body_errors.clone()))
    }
}
