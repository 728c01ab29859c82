//! What one exchange holds until its response has been read ([`Lease`]).

use std::sync::Weak;

use hyper::client::conn::http1::SendRequest;
use tokio::sync::OwnedSemaphorePermit;

use crate::h2_pool::StreamSlot;
use crate::pool::{Home, Inner, SendBody};

/// What one exchange holds until its response has been read: an HTTP/1 connection
/// (which [`Lease::release`] returns to its pool once the response was read to its
/// end; dropping it closes the connection; after a `101` the connection belongs to
/// the upgrade and dropping the lease leaves it to its new owner), or an HTTP/2
/// stream slot (given up on release or drop).
#[derive(Debug)]
pub struct Lease<B> {
    held: Held<B>,
}

#[derive(Debug)]
enum Held<B> {
    /// Boxed: nearly every response comes from the in-task client, whose lease holds
    /// nothing, and inline this would make each response 48 bytes larger, past the
    /// 256 bytes `memcpy` moves without a loop (a response moves about twelve times
    /// on its way to the client: ~35 instructions more each under callgrind).
    Connection(Box<HeldConnection<B>>),
    Stream(Option<StreamSlot>),
    /// Nothing: the response body holds the connection (the in-task client's).
    Detached,
}

#[derive(Debug)]
struct HeldConnection<B> {
    sender: Option<SendRequest<B>>,
    pool: Weak<Inner<B>>,
    /// Released with the connection: back in the pool, or closed.
    permit: Option<OwnedSemaphorePermit>,
    /// Where it goes back to: the stack of the worker driving it, or its client's.
    home: Home,
}

impl<B: SendBody> Lease<B> {
    /// An HTTP/1 connection of `pool`, going back to `home` on release, with the
    /// pool `permit` it holds until then.
    pub(crate) fn connection(
        sender: SendRequest<B>,
        pool: Weak<Inner<B>>,
        permit: Option<OwnedSemaphorePermit>,
        home: Home,
    ) -> Self {
        Self {
            held: Held::Connection(Box::new(HeldConnection {
                sender: Some(sender),
                pool,
                permit,
                home,
            })),
        }
    }

    /// A lease holding nothing: the response body owns its connection.
    pub(crate) fn detached() -> Self {
        Self {
            held: Held::Detached,
        }
    }

    /// A stream slot on an HTTP/2 connection.
    pub(crate) fn stream(slot: StreamSlot) -> Self {
        Self {
            held: Held::Stream(Some(slot)),
        }
    }

    /// The response body has ended: the connection (or stream slot) may carry the
    /// next request.
    pub fn release(&mut self) {
        match &mut self.held {
            Held::Connection(held) => {
                let HeldConnection {
                    sender,
                    pool,
                    permit,
                    home,
                } = &mut **held;
                if let (Some(sender), Some(pool)) = (sender.take(), pool.upgrade()) {
                    pool.give_back(sender, *home);
                }
                // After the connection is back: the next in line finds it idle.
                drop(permit.take());
            }
            Held::Stream(slot) => drop(slot.take()),
            Held::Detached => {}
        }
    }
}
