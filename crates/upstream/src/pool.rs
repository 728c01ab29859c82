//! Keep-alive HTTP/1.1 connections to one backend, on hyper's connection API.
//!
//! A request takes the most recently used idle connection (or opens one), and the
//! connection comes back when the response body has been read to its end ([`Lease`]).
//! A connection whose response was not read to the end (client gone, error) is
//! dropped, never reused. A request that could not be written on a reused
//! connection (the backend closed it while idle) is sent again on another one, so an
//! idle close never surfaces as a client error. Idle connections are closed after the
//! cluster's idle timeout by a reaper task that ends with the pool.
//!
//! With a limit (`max_connections`), a request first takes one of the backend's
//! permits, in arrival order, and its lease holds it until the connection is back
//! in the pool or closed: no more requests are on their way to the backend at once
//! than the limit, and since a connection is opened only when none is idle, no more
//! connections are open either (a `fresh` one, for an upgrade or after an idle
//! close, may briefly add one). Past it, requests wait for a permit (nginx's
//! `max_conns` with its queue, HAProxy's `maxconn`) in a bounded line
//! (`queue.rs`: `max_pending`, `queue_timeout`): 1,000 clients need not be
//! 1,000 backend connections. A `101` takes its connection out of the count: a
//! tunnel holds no permit.
//!
//! A request without a body (and no upgrade) does not use hyper's client at all: the
//! in-task client (`direct.rs`) writes and reads its connection in the request's own
//! task, from a second set of per-worker stacks under the same limit and `open` count.
//!
//! Compared with hyper-util's generic pool this one has no per-request task spawn
//! and no keyed map: small mutex-guarded stacks per backend, one per worker thread
//! (`sluicegate_core::worker`). A connection's task runs on the worker that opened
//! it and the connection goes back to that worker's stack, so a request takes one of
//! its own worker's first and hyper's hand-off to the connection task stays on one
//! thread. Another worker's idle connection is taken only when the backend is at its
//! limit (then no new one may open); without a limit, a worker opens its own.
//!
//! Connections are driven with hyper's upgrade support: a `101 Switching Protocols`
//! hands the connection to whoever holds the response (`hyper::upgrade::on`), and
//! such a connection never comes back: the caller drops its [`Lease`] unreleased.
//!
//! A cluster that sends the PROXY protocol (`send_proxy_protocol`) writes the header
//! once, when a connection opens, so a connection speaks for one client only: its
//! connections are kept by client (address and the address it connected to, as
//! Envoy keys its pools by the downstream connection's PROXY state), each client's
//! reused only by that client's requests, and all go through hyper's client.
//!
//! The pool is generic over the request body `B` ([`SendBody`]): it never names
//! the body type of the layer above (the retry buffer lives in the `http` crate).

use sluicegate_metrics::BodyErrors;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use http::Response;
use hyper::body::Body;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use sluicegate_core::worker;
use sluicegate_metrics::LazyCounter;
use tokio::sync::OwnedSemaphorePermit;

use crate::connector::Connector;
use crate::direct::framing::{CHUNKED_TWICE, chunked_codings};
use crate::direct::{self, Stacks};
use crate::lease::Lease;
use crate::outgoing::{ClientKey, Outgoing};
use crate::queue::{Limit, Permits};
use crate::send_error::{SendError, SendFailure, is_reset};
use crate::upstream_body::UpstreamBody;

mod in_task;

/// The largest response head a backend may send: the 64 KiB a client's request head
/// may have (past it hyper refuses the response: 502), as HAProxy's `tune.bufsize`
/// bounds both directions (hyper's default is its read buffer, about 400 KiB).
const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// What a pool can send as a request body: anything hyper's HTTP/1 client takes and
/// a spawned connection task can own.
pub trait SendBody:
    Body<Data: Send, Error: Into<Box<dyn StdError + Send + Sync>>> + Send + 'static
{
}

impl<B> SendBody for B where
    B: Body<Data: Send, Error: Into<Box<dyn StdError + Send + Sync>>> + Send + 'static
{
}

/// Most idle connections kept per backend and worker, by either client; more are
/// closed when they come back.
pub(crate) const MAX_IDLE: usize = 1024;

/// Whether a failed exchange on a reused connection is the idle-close race: the
/// connection ended (closed or reset) with nothing of a response read. A parse error
/// or a timeout is a real answer from the backend and is not.
fn is_stale(error: &hyper::Error) -> bool {
    // Canceled: the connection closed before the request went out ("connection
    // closed before message completed"), a backend shedding idle connections.
    if error.is_incomplete_message() || error.is_canceled() {
        return true;
    }
    let io = std::error::Error::source(error).and_then(|e| e.downcast_ref::<io::Error>());
    io.is_some_and(is_reset)
}

/// The idle connections of one backend, sending request bodies of type `B`.
#[derive(Debug)]
pub struct Pool<B> {
    inner: Arc<Inner<B>>,
}

// By hand: a derived `Clone` would require `B: Clone`, and a request body is not.
impl<B> Clone for Pool<B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Inner<B> {
    connector: Connector,
    idle_timeout: Duration,
    /// One permit per connection allowed (`max_connections`) and the line for them;
    /// `None`: no limit.
    limit: Option<Permits>,
    /// Idle connections, a stack per worker.
    idle: Box<[Mutex<Vec<Idle<B>>>]>,
    /// Idle connections of the in-task client (`direct.rs`), a stack per worker.
    direct: Arc<Stacks>,
    /// With `send_proxy_protocol`: idle connections by the client they speak for
    /// (the worker stacks stay empty).
    by_client: Mutex<HashMap<ClientKey, Vec<Idle<B>>>>,
    /// Connections open or opening.
    open: Arc<AtomicUsize>,
    /// The backend's body error counters, for its connections and bodies.
    body_errors: Arc<BodyErrors>,
}

#[derive(Debug)]
struct Idle<B> {
    sender: SendRequest<B>,
    since: Instant,
}

/// Where a connection goes back to when its response has been read.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Home {
    /// The stack of this worker.
    Worker(usize),
    /// The connections of this client (a cluster with `send_proxy_protocol`).
    Client(ClientKey),
}

/// The client a PROXY header names when a request came without one (none does: the
/// `http` crate sets every such request's client): nobody.
const NO_CLIENT: ClientKey = (
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
);

impl<B: SendBody> Pool<B> {
    /// An empty pool of connections made by `connector`, at most `limit` of them
    /// open at once (requests that wait for one counted in `queued`; bodies that fail
    /// counted in `body_errors`), with its reaper task (needs a tokio runtime).
    pub fn new(
        connector: Connector,
        idle_timeout: Duration,
        (limit, queued, body_errors): (Option<Limit>, LazyCounter, Arc<BodyErrors>),
    ) -> Self {
        let inner = Arc::new(Inner {
            connector,
            idle_timeout,
            limit: limit.map(|limit| Permits::new(limit, queued)),
            idle: (0..worker::count()).map(|_| Mutex::default()).collect(),
            direct: Arc::new(Stacks::new(worker::count(), idle_timeout)),
            by_client: Mutex::default(),
            open: Arc::default(),
            body_errors,
        });
        tokio::spawn(reap(Arc::downgrade(&inner), idle_timeout));
        Self { inner }
    }

    /// Whether this pool was built with this connector, idle timeout and limit (then
    /// it can be kept on reload).
    pub fn fits(&self, connector: &Connector, idle: Duration, limit: Option<Limit>) -> bool {
        self.inner.connector.same_as(connector)
            && self.inner.idle_timeout == idle
            && self.inner.limit.as_ref().map(|p| p.limit) == limit
    }

    /// Sends `request` and waits for the response head, on a new connection when
    /// `fresh`, until `deadline` (the cluster's response timeout, which also bounds
    /// the wait in line). The returned lease gives the connection back once the
    /// response body has been read to its end. A request that was not sent at all
    /// (connect failure, no room) comes back with the error
    /// ([`SendFailure::unsent`]), so it can go to another backend.
    pub async fn send(
        &self,
        request: Box<Outgoing<B>>,
        fresh: bool,
        deadline: tokio::time::Instant,
    ) -> Result<(Response<UpstreamBody>, Lease<B>), SendFailure<Outgoing<B>>> {
        let permit = match &self.inner.limit {
            Some(permits) => match permits.acquire(deadline).await {
                Ok(permit) => Some(permit),
                Err(SendError::TimedOut) => return Err(SendFailure::sent(SendError::TimedOut)),
                Err(error) => return Err(SendFailure::unsent(error, request)),
            },
            None => None,
        };
        let mut request = request;
        let here = worker::current() % self.inner.idle.len();
        let home = match (self.inner.connector.proxy, request.client.take()) {
            (Some(_), client) => Home::Client(client.map_or(NO_CLIENT, |c| *c)),
            (None, _) => Home::Worker(here),
        };
        if matches!(home, Home::Worker(_)) && !fresh && direct::carries(&request.request) {
            return self.send_direct(request, permit, (here, deadline)).await;
        }
        // Boxed: hyper's client carries the rarer requests (with a body, an upgrade, a
        // resend on a fresh connection), and inline its future with its timer would
        // take ~600 bytes of every request's future, held for the whole exchange.
        let sent = self.send_hyper(request, fresh, (permit, home));
        match Box::pin(tokio::time::timeout_at(deadline, sent)).await {
            Ok(result) => result,
            Err(_) => Err(SendFailure::sent(SendError::TimedOut)),
        }
    }

    /// `send` on hyper's client, untimed (`send` bounds it), on a connection of
    /// `home`'s.
    async fn send_hyper(
        &self,
        request: Box<Outgoing<B>>,
        fresh: bool,
        (permit, home): (Option<OwnedSemaphorePermit>, Home),
    ) -> Result<(Response<UpstreamBody>, Lease<B>), SendFailure<Outgoing<B>>> {
        let mut request = request.merged();
        // What goes back unsent keeps its client, for the next backend's header.
        let back = |request| {
            let mut unsent = Outgoing::handed_back(request);
            if let Home::Client(client) = home {
                unsent.client = Some(Box::new(client));
            }
            unsent
        };
        loop {
            let idle = if fresh {
                None
            } else {
                self.inner.checkout_home(home)
            };
            let (mut sender, home, reused) = match idle {
                Some((sender, home)) => (sender, home, true),
                // Boxed: a connect (TCP, TLS, handshake) is rare next to a reuse, and
                // inline its state would be copied with every request's future.
                None => match Box::pin(self.inner.connect_room(home)).await {
                    Ok(sender) => (sender, home, false),
                    Err(error) => return Err(SendFailure::unsent(error, back(request))),
                },
            };
            if reused && sender.ready().await.is_err() {
                continue; // Closed while idle: try the next one.
            }
            match sender.try_send_request(request).await {
                Ok(response) if chunked_twice(response.headers()) => {
                    // Dropped with its sender and body: the connection closes.
                    return Err(SendFailure::sent(SendError::Invalid(CHUNKED_TWICE)));
                }
                Ok(response) => {
                    let errors = self.inner.body_errors.clone();
                    let response = response.map(|body| UpstreamBody::hyper(body, errors));
                    let lease =
                        Lease::connection(sender, Arc::downgrade(&self.inner), permit, home);
                    return Ok((response, lease));
                }
                Err(mut error) => match error.take_message() {
                    // Not written: safe to send on another connection.
                    Some(unsent) if reused => request = unsent,
                    None if reused && is_stale(error.error()) => {
                        return Err(SendFailure::sent(SendError::Stale(
                            error.into_error().into(),
                        )));
                    }
                    unsent => {
                        let error = SendError::Exchange(error.into_error());
                        let given_back = None;
                        return Err(SendFailure {
                            error,
                            unsent: unsent.map(back),
                            given_back,
                        });
                    }
                },
            }
        }
    }
}

/// Whether a response head hyper accepted applies `chunked` more than once (hyper
/// reads only the last coding).
fn chunked_twice(headers: &http::HeaderMap) -> bool {
    let codings = crate::short_head::get_all(headers, &http::header::TRANSFER_ENCODING)
        .map(|v| chunked_codings(v.as_bytes()))
        .fold(0u32, u32::saturating_add);
    codings > 1
}

impl<B: SendBody> Inner<B> {
    /// An idle connection of `home` and where it goes back: for a worker, see
    /// [`Self::checkout`]; for a client, that client's most recently used.
    fn checkout_home(&self, home: Home) -> Option<(SendRequest<B>, Home)> {
        match home {
            Home::Worker(here) => self
                .checkout(here)
                .map(|(sender, at)| (sender, Home::Worker(at))),
            Home::Client(client) => self.pop_client(client).map(|sender| (sender, home)),
        }
    }

    /// The most recently used live connection of `client`, dropping expired and
    /// closed ones (and the client's entry, once empty).
    fn pop_client(&self, client: ClientKey) -> Option<SendRequest<B>> {
        let mut by_client = self.by_client.lock().ok()?;
        let idle = by_client.get_mut(&client)?;
        let found = self.pop_live(idle);
        if idle.is_empty() {
            by_client.remove(&client);
        }
        found
    }

    /// An idle connection and the stack it came from: worker `here`'s most recently
    /// used, else, at the limit, another worker's.
    fn checkout(&self, here: usize) -> Option<(SendRequest<B>, usize)> {
        self.checkout_from(here, self.idle.len(), |at| self.pop(at))
    }

    /// Worker `here`'s connection taken by `pop`, else, at the limit (no new one
    /// may open), another of the `stacks` workers': the one rule for both clients.
    fn checkout_from<T>(
        &self,
        here: usize,
        stacks: usize,
        pop: impl Fn(usize) -> Option<T>,
    ) -> Option<(T, usize)> {
        if let Some(conn) = pop(here) {
            return Some((conn, here));
        }
        let permits = self.limit.as_ref()?;
        if self.open.load(Ordering::Relaxed) < permits.limit.connections as usize {
            return None;
        }
        (0..stacks)
            .filter(|&other| other != here)
            .find_map(|other| pop(other).map(|conn| (conn, other)))
    }

    /// The most recently used live connection of stack `at`, dropping expired and
    /// closed ones.
    fn pop(&self, at: usize) -> Option<SendRequest<B>> {
        let mut idle = self.idle.get(at)?.lock().ok()?;
        self.pop_live(&mut idle)
    }

    /// The most recently used live connection of `idle`, dropping dead ones above it.
    fn pop_live(&self, idle: &mut Vec<Idle<B>>) -> Option<SendRequest<B>> {
        while let Some(entry) = idle.pop() {
            if self.live(&entry) {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Whether an idle connection may still be used: open, and not idle too long.
    fn live(&self, entry: &Idle<B>) -> bool {
        !entry.sender.is_closed() && entry.since.elapsed() < self.idle_timeout
    }

    /// Puts a connection whose response was read to its end back where it came
    /// from: its worker's stack, or its client's connections.
    pub(crate) fn give_back(&self, sender: SendRequest<B>, home: Home) {
        if sender.is_closed() {
            return;
        }
        let entry = Idle {
            sender,
            since: Instant::now(),
        };
        match home {
            Home::Worker(at) => {
                if let Some(Ok(mut idle)) = self.idle.get(at).map(Mutex::lock)
                    && idle.len() < MAX_IDLE
                {
                    idle.push(entry);
                }
            }
            Home::Client(client) => {
                if let Ok(mut by_client) = self.by_client.lock() {
                    let idle = by_client.entry(client).or_default();
                    if idle.len() < MAX_IDLE {
                        idle.push(entry);
                    }
                }
            }
        }
    }

    /// [`Self::connect`], after closing another client's idle connection if the
    /// backend is at its limit: a client's connections serve no other, so at the
    /// limit a new client's takes the place of an idle one (the permit already bounds
    /// the requests on their way).
    async fn connect_room(&self, home: Home) -> Result<SendRequest<B>, SendError> {
        if let (Home::Client(client), Some(permits)) = (home, &self.limit)
            && self.open.load(Ordering::Relaxed) >= permits.limit.connections as usize
            && let Ok(mut by_client) = self.by_client.lock()
        {
            let other = by_client.keys().find(|k| **k != client).copied();
            if let Some(other) = other
                && let Some(idle) = by_client.get_mut(&other)
            {
                // Its oldest, dropped: the connection closes.
                drop(idle.remove(0));
                if idle.is_empty() {
                    by_client.remove(&other);
                }
            }
        }
        self.connect(home).await
    }

    /// A new connection for `home` (for a client: the PROXY header naming it sent
    /// first), driven by a task on the calling worker and counted in `open` until
    /// that task ends.
    async fn connect(&self, home: Home) -> Result<SendRequest<B>, SendError> {
        let open = OpenCount::new(&self.open);
        let stream = match home {
            Home::Worker(_) => self.connector.connect(false).await?,
            Home::Client(client) => self.connector.connect_for(client).await?,
        };
        let (sender, connection) = http1::Builder::new()
            .max_header_size(MAX_RESPONSE_HEAD)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(SendError::Exchange)?;
        let address = self.connector.address;
        tokio::spawn(async move {
            let _open = open;
            // With upgrades: after a 101 the connection is handed over, not closed.
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%address, "upstream connection ended: {error}");
            }
        });
        Ok(sender)
    }

    /// Closes idle connections unused for the idle timeout (oldest are at the front).
    fn evict_expired(&self) {
        self.direct.evict_expired();
        for stack in &self.idle {
            if let Ok(mut idle) = stack.lock() {
                let fresh = idle.iter().position(|e| self.live(e)).unwrap_or(idle.len());
                idle.drain(..fresh);
            }
        }
        if let Ok(mut by_client) = self.by_client.lock() {
            by_client.retain(|_, idle| {
                idle.retain(|e| self.live(e));
                !idle.is_empty()
            });
        }
    }
}

/// One connection counted in a pool's `open` while it lives (from before its
/// connect to the end of its task).
#[derive(Debug)]
pub(crate) struct OpenCount(Arc<AtomicUsize>);

impl OpenCount {
    pub(crate) fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Self(open.clone())
    }
}

impl Drop for OpenCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs while the pool exists, closing expired idle connections.
async fn reap<B: SendBody>(pool: Weak<Inner<B>>, idle_timeout: Duration) {
    let period = (idle_timeout / 2).max(Duration::from_millis(100));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match pool.upgrade() {
            Some(pool) => pool.evict_expired(),
            None => return,
        }
    }
}
