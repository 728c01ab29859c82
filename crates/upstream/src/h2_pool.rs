//! HTTP/2 connections to one backend (`upstream_protocol: h2c`, and `h2` over TLS):
//! streams multiplexed on as few connections as the backend allows.
//!
//! A request takes a stream slot on the first open connection that has one, within
//! the backend's `SETTINGS_MAX_CONCURRENT_STREAMS` as the connection currently knows
//! it (read live from hyper's connection, which its driver task polls through a
//! mutex: hyper keeps the value there and nowhere else); when every
//! connection is full, another is opened (Pingora #401: it was not, and streams past
//! the limit were refused). Opening is serialised per backend, so a burst opens one
//! connection, not one per waiting request. The slot is held by the exchange's lease
//! until the response body ends or is dropped.
//!
//! A connection that the backend closed or sent GOAWAY on is taken out of use; a
//! request it did not take (hyper hands it back unsent) goes to another connection,
//! and a stream the backend refused (`REFUSED_STREAM`: not processed, RFC 9113 §8.7)
//! fails as an idle close does, so the layer above resends it when it can. A
//! connection without open streams for the cluster's idle timeout is closed by the
//! reaper. PING keep-alive runs when `h2_keepalive` is set.

use sluicegate_metrics::BodyErrors;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::Poll;
use std::time::{Duration, Instant};

use http::Response;
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::Mutex;

use crate::connector::Connector;
use crate::h2_request::to_h2;
use crate::outgoing::Outgoing;
use crate::pool::SendBody;
use crate::send_error::{SendError, SendFailure};

/// PING answers wait this long before the connection is closed (hyper's default).
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Streams a new connection carries before the backend's first SETTINGS arrive: one,
/// so that a burst does not pile onto a connection whose limit is not known yet (the
/// backend would refuse the streams past it). h2 replaces it with the backend's value.
const STREAMS_BEFORE_SETTINGS: usize = 1;

/// Most streams on one connection, for a backend that sets no limit (h2 then reports
/// `usize::MAX`): Envoy's and nginx's own server defaults are 100 and 128; beyond a
/// thousand, one connection's flow-control window is the bottleneck anyway.
const MAX_STREAMS_PER_CONNECTION: usize = 1000;

/// The HTTP/2 connections of one backend.
#[derive(Debug)]
pub struct H2Pool<B> {
    inner: Arc<Inner<B>>,
}

// By hand: a derived `Clone` would require `B: Clone`.
impl<B> Clone for H2Pool<B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

#[derive(Debug)]
struct Inner<B> {
    connector: Connector,
    idle_timeout: Duration,
    keepalive: Option<Duration>,
    conns: Mutex<Vec<Arc<Conn<B>>>>,
    body_errors: Arc<BodyErrors>,
}

/// One connection and its streams.
#[derive(Debug)]
struct Conn<B> {
    sender: SendRequest<B>,
    /// Streams open on it (slots held by leases).
    open: Arc<AtomicUsize>,
    /// The backend's current stream limit.
    limit: Arc<dyn StreamLimit>,
    /// When a stream was last reserved on it (or it opened).
    idle_since: std::sync::Mutex<Instant>,
}

/// A stream slot on one connection, held by an exchange until its response ends.
#[derive(Debug)]
pub struct StreamSlot {
    open: Arc<AtomicUsize>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<B: SendBody + Unpin> H2Pool<B> {
    /// An empty pool of connections made by `connector` (with TLS, ALPN must say
    /// `h2`), with its reaper task (needs a tokio runtime).
    /// Bodies that fail are counted in `body_errors`.
    pub fn new(
        connector: Connector,
        idle_timeout: Duration,
        keepalive: Option<Duration>,
        body_errors: Arc<BodyErrors>,
    ) -> Self {
        let inner = Arc::new(Inner {
            connector,
            idle_timeout,
            keepalive,
            conns: Mutex::new(Vec::new()),
            body_errors,
        });
        tokio::spawn(reap(Arc::downgrade(&inner), idle_timeout));
        Self { inner }
    }

    /// Whether this pool was built with these settings (then it can be kept on reload).
    pub fn fits(&self, connector: &Connector, idle: Duration, keepalive: Option<Duration>) -> bool {
        let i = &self.inner;
        i.connector.same_as(connector) && i.idle_timeout == idle && i.keepalive == keepalive
    }

    /// The backend's body error counters, for the bodies of its responses.
    pub(crate) fn body_errors(&self) -> &Arc<BodyErrors> {
        &self.inner.body_errors
    }

    /// Connections open now (for tests and status).
    pub async fn connections(&self) -> usize {
        self.inner.conns.lock().await.len()
    }

    /// Sends `request` as a stream and waits for the response head. The slot is held
    /// until the returned one is dropped. `fresh` (the layer above resending after an
    /// idle close or a refused stream) asks for nothing more here: a closed or
    /// refusing connection is out of use already, and any other one with room will do.
    pub async fn send(
        &self,
        request: Outgoing<B>,
        _fresh: bool,
    ) -> Result<(Response<Incoming>, StreamSlot), SendFailure<Outgoing<B>>> {
        let mut request = to_h2(request.merged(), self.inner.connector.scheme());
        let mut fresh = false;
        loop {
            let (mut sender, slot) = match self.inner.slot(fresh).await {
                Ok(taken) => taken,
                Err(error) => {
                    return Err(SendFailure::unsent(error, Outgoing::handed_back(request)));
                }
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok((response, slot)),
                Err(mut error) => match error.take_message() {
                    // Not taken by this connection (closed, GOAWAY): another one.
                    Some(unsent) => {
                        request = unsent;
                        fresh = true;
                    }
                    None if is_refused(error.error()) => {
                        return Err(SendFailure::sent(SendError::Stale(
                            error.into_error().into(),
                        )));
                    }
                    None => {
                        let error = SendError::Exchange(error.into_error());
                        return Err(SendFailure::sent(error));
                    }
                },
            }
        }
    }
}

/// Whether the backend left the stream unprocessed: it refused it
/// (`REFUSED_STREAM`), or sent GOAWAY with a last stream id below it (h2 fails only
/// those streams with the GOAWAY; the ones at or below it go on). Safe to send again
/// (RFC 9113 §6.8, §8.7).
fn is_refused(error: &hyper::Error) -> bool {
    let h2 = std::error::Error::source(error).and_then(|e| e.downcast_ref::<h2::Error>());
    h2.is_some_and(|e| e.is_go_away() || e.reason() == Some(h2::Reason::REFUSED_STREAM))
}

impl<B: SendBody + Unpin> Inner<B> {
    /// A sender and a stream slot: on the first usable connection with room, else
    /// (or when `fresh`) on a new one. Serialised, so one burst opens one connection.
    async fn slot(&self, fresh: bool) -> Result<(SendRequest<B>, StreamSlot), SendError> {
        let mut conns = self.conns.lock().await;
        conns.retain(|c| !c.sender.is_closed());
        if !fresh && let Some(taken) = conns.iter().find_map(|c| c.reserve()) {
            return Ok(taken);
        }
        // Boxed, as in the HTTP/1 pool: rare, and large inline.
        let conn = Arc::new(Box::pin(self.connect()).await?);
        let taken = conn.reserve().ok_or_else(|| {
            SendError::Connect(std::io::Error::other("the backend allows no HTTP/2 stream"))
        })?;
        conns.push(conn);
        Ok(taken)
    }

    /// hyper's HTTP/2 client settings for this backend.
    fn builder(&self) -> http2::Builder<TokioExecutor> {
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .initial_max_send_streams(STREAMS_BEFORE_SETTINGS);
        if let Some(interval) = self.keepalive {
            builder
                .keep_alive_interval(interval)
                .keep_alive_timeout(KEEPALIVE_TIMEOUT)
                .keep_alive_while_idle(true);
        }
        builder
    }

    async fn connect(&self) -> Result<Conn<B>, SendError> {
        let stream = self.connector.connect(true).await?;
        let (sender, connection) = self
            .builder()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(SendError::Exchange)?;
        let connection = Arc::new(std::sync::Mutex::new(Some(connection)));
        let limit: Arc<dyn StreamLimit> = connection.clone();
        let address = self.connector.address;
        tokio::spawn(async move {
            // Once it ends, hyper's connection is dropped at once (not when the pool
            // lets go of the limit it reads): only then do its senders see it closed,
            // and a request handed to it meanwhile would wait forever.
            let driven = std::future::poll_fn(|cx| {
                let Ok(mut slot) = connection.lock() else {
                    return Poll::Ready(Ok(()));
                };
                let Some(live) = slot.as_mut() else {
                    return Poll::Ready(Ok(()));
                };
                let polled = Pin::new(live).poll(cx);
                if polled.is_ready() {
                    *slot = None;
                }
                polled
            });
            if let Err(error) = driven.await {
                tracing::debug!(%address, "upstream HTTP/2 connection ended: {error}");
            }
        });
        Ok(Conn {
            sender,
            open: Arc::new(AtomicUsize::new(0)),
            limit,
            idle_since: std::sync::Mutex::new(Instant::now()),
        })
    }

    /// Closes connections without streams for the idle timeout.
    async fn evict_idle(&self) {
        let mut conns = self.conns.lock().await;
        conns.retain(|c| !c.sender.is_closed() && !c.idle_for(self.idle_timeout));
    }
}

impl<B> Conn<B> {
    /// A slot on this connection when it is open and has room.
    fn reserve(&self) -> Option<(SendRequest<B>, StreamSlot)> {
        if !self.sender.is_ready() {
            return None;
        }
        let limit = self
            .limit
            .max_send_streams()
            .min(MAX_STREAMS_PER_CONNECTION);
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()?;
        if let Ok(mut since) = self.idle_since.lock() {
            *since = Instant::now();
        }
        let slot = StreamSlot {
            open: self.open.clone(),
        };
        Some((self.sender.clone(), slot))
    }

    /// Whether it has had no stream for `idle` (measured from its last reservation).
    fn idle_for(&self, idle: Duration) -> bool {
        self.open.load(Ordering::Acquire) == 0
            && self
                .idle_since
                .lock()
                .is_ok_and(|since| since.elapsed() >= idle)
    }
}

/// The backend's current stream limit, read live from hyper's connection (the h2
/// state behind it changes when the backend's SETTINGS arrive, on hyper's own task).
trait StreamLimit: Send + Sync + std::fmt::Debug {
    fn max_send_streams(&self) -> usize;
}

impl<T, B> StreamLimit for std::sync::Mutex<Option<http2::Connection<T, B, TokioExecutor>>>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + std::fmt::Debug + 'static,
    B: SendBody + Unpin,
{
    /// 0 once the connection has ended (or the backend allows no stream now).
    fn max_send_streams(&self) -> usize {
        let slot = self.lock();
        let live = slot.as_ref().ok().and_then(|c| c.as_ref());
        live.map_or(0, |c| c.current_max_send_streams())
    }
}

/// Runs while the pool exists, closing idle connections.
async fn reap<B: SendBody + Unpin>(pool: Weak<Inner<B>>, idle_timeout: Duration) {
    let period = (idle_timeout / 2).max(Duration::from_millis(100));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        match pool.upgrade() {
            Some(pool) => pool.evict_idle().await,
            None => return,
        }
    }
}
