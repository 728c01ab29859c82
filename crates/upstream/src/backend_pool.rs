//! One backend's pool, in the protocol its cluster speaks to it: a stack of HTTP/1.1
//! keep-alive connections ([`Pool`]) or multiplexed HTTP/2 connections ([`H2Pool`]).
//! Both hand out a [`Lease`] that the response body holds until it ends.

use http::{Request, Response};
use sluicegate_core::UpstreamProtocol;
use sluicegate_runtime::{Backend, Cluster};
use tokio::time::Instant;

use crate::connector::Connector;
use crate::direct;
use crate::h2_pool::H2Pool;
use crate::lease::Lease;
use crate::outgoing::Outgoing;
use crate::pool::{Pool, SendBody};
use crate::queue::Limit;
use crate::send_error::{SendError, SendFailure};
use crate::upstream_body::UpstreamBody;

/// One backend's connections.
#[derive(Debug)]
pub enum BackendPool<B> {
    /// HTTP/1.1 keep-alive connections.
    Http1(Pool<B>),
    /// HTTP/2 connections (cleartext with prior knowledge).
    Http2(H2Pool<B>),
}

// By hand: a derived `Clone` would require `B: Clone`.
impl<B> Clone for BackendPool<B> {
    fn clone(&self) -> Self {
        match self {
            BackendPool::Http1(p) => BackendPool::Http1(p.clone()),
            BackendPool::Http2(p) => BackendPool::Http2(p.clone()),
        }
    }
}

impl<B: SendBody + Unpin> BackendPool<B> {
    /// A new pool for `backend` of `cluster` (needs a tokio runtime: pools run reaper
    /// tasks).
    pub fn new(backend: &Backend, cluster: &Cluster) -> Self {
        let (connector, idle) = (
            Connector::for_backend(backend, cluster),
            cluster.idle_timeout,
        );
        match cluster.upstream_protocol {
            UpstreamProtocol::Http1 => {
                let counters = (backend.series.queued(), backend.series.body_errors());
                let (queued, body_errors) = counters;
                BackendPool::Http1(Pool::new(
                    connector,
                    idle,
                    (limit(cluster), queued, body_errors),
                ))
            }
            UpstreamProtocol::H2 | UpstreamProtocol::H2c => {
                let errors = backend.series.body_errors();
                BackendPool::Http2(H2Pool::new(connector, idle, cluster.h2_keepalive, errors))
            }
        }
    }

    /// Whether this pool can serve `backend` of `cluster` as it is now (same protocol,
    /// connector and settings): then a reload keeps it, with its warm connections.
    pub fn fits(&self, backend: &Backend, cluster: &Cluster) -> bool {
        let (connector, idle) = (
            Connector::for_backend(backend, cluster),
            cluster.idle_timeout,
        );
        match (self, cluster.upstream_protocol) {
            (BackendPool::Http1(p), UpstreamProtocol::Http1) => {
                p.fits(&connector, idle, limit(cluster))
            }
            (BackendPool::Http2(p), UpstreamProtocol::H2 | UpstreamProtocol::H2c) => {
                p.fits(&connector, idle, cluster.h2_keepalive)
            }
            _ => false,
        }
    }

    /// Whether `request`, sent on a reused connection, comes back whole when that
    /// connection turns out closed ([`SendFailure::given_back`]): an HTTP/1.1 request
    /// the in-task client carries. Then the caller keeps no copy of it to resend.
    pub fn gives_back(&self, request: &Request<B>) -> bool {
        matches!(self, BackendPool::Http1(_)) && direct::carries(request)
    }

    /// Sends `request` and waits for the response head (on a new connection when
    /// `fresh`) until `deadline`, past which it fails with [`SendError::TimedOut`];
    /// see [`Pool::send`] and [`H2Pool::send`].
    pub async fn send(
        &self,
        request: Box<Outgoing<B>>,
        fresh: bool,
        deadline: Instant,
    ) -> Result<(Response<UpstreamBody>, Lease<B>), SendFailure<Outgoing<B>>> {
        match self {
            BackendPool::Http1(pool) => pool.send(request, fresh, deadline).await,
            BackendPool::Http2(pool) => {
                // Boxed, as `Pool::send` boxes hyper's client: inline, this future
                // and its timer would size every request's future, HTTP/1 ones too.
                let sent = Box::pin(tokio::time::timeout_at(
                    deadline,
                    pool.send(*request, fresh),
                ));
                let sent = sent.await;
                let (response, slot) =
                    sent.map_err(|_| SendFailure::sent(SendError::TimedOut))??;
                let errors = pool.body_errors().clone();
                let response = response.map(|body| UpstreamBody::hyper(body, errors));
                Ok((response, Lease::stream(slot)))
            }
        }
    }
}

/// The connection limit and queue of each backend of `cluster`, if it has a limit.
fn limit(cluster: &Cluster) -> Option<Limit> {
    cluster.max_connections.map(|connections| Limit {
        connections,
        max_pending: cluster.max_pending,
        queue_timeout: cluster.queue_timeout,
    })
}
