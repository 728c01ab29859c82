//! The [`Backend`] handle and the accept loop every fake backend shares.
//!
//! Each backend is one tokio task owning its listener and a `JoinSet` of its
//! connections; dropping the handle aborts the task, which drops the listener and
//! aborts every connection, so the sockets close at once.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinSet};

/// The body type fake HTTP backends answer with.
pub(crate) type ReplyBody = BoxBody<Bytes, hyper::Error>;
/// A fake HTTP backend's response.
pub(crate) type Reply = Response<ReplyBody>;

/// What a backend has seen, shared between its task and its handle.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicUsize,
    accepts: AtomicUsize,
    closed: AtomicUsize,
}

impl Counters {
    /// Counts one request whose head has arrived.
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts one request and returns how many had arrived before it.
    pub(crate) fn next_request(&self) -> usize {
        self.requests.fetch_add(1, Ordering::SeqCst)
    }
}

/// A running fake backend (or, for [`Backend::refusing`], an address nothing listens
/// on). Dropping it aborts its task, so its listener and every connection close as
/// soon as the runtime processes the abort (not synchronously in `drop`).
#[derive(Debug)]
pub struct Backend {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: Option<AbortHandle>,
}

impl Backend {
    /// The address the backend listens on (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests received so far, counted when a request head arrives (before the
    /// answer), so a test can wait until a backend is working on a request.
    pub fn requests(&self) -> usize {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn accepts(&self) -> usize {
        self.counters.accepts.load(Ordering::SeqCst)
    }

    /// Connections the backend has finished with (it closed them or the peer did).
    pub fn closed(&self) -> usize {
        self.counters.closed.load(Ordering::SeqCst)
    }

    /// A handle for an address nothing listens on: connecting to it is refused.
    pub fn refusing() -> Backend {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        drop(listener);
        Backend {
            addr,
            counters: Arc::default(),
            task: None,
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Binds `127.0.0.1:0` and runs `connection` on every accepted socket. Must be called
/// inside a tokio runtime.
pub(crate) fn spawn_tcp<H, Fut>(connection: H) -> Backend
where
    H: Fn(TcpStream, Arc<Counters>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = bind();
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"));
    let counters = Arc::new(Counters::default());
    let task = tokio::spawn(accept_loop(listener, counters.clone(), connection));
    Backend {
        addr,
        counters,
        task: Some(task.abort_handle()),
    }
}

fn bind() -> TcpListener {
    let std = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
    std.set_nonblocking(true)
        .unwrap_or_else(|e| panic!("cannot make the listener non-blocking: {e}"));
    TcpListener::from_std(std)
        .unwrap_or_else(|e| panic!("backends must be created inside a tokio runtime: {e}"))
}

async fn accept_loop<H, Fut>(listener: TcpListener, counters: Arc<Counters>, connection: H)
where
    H: Fn(TcpStream, Arc<Counters>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                counters.accepts.fetch_add(1, Ordering::SeqCst);
                let serve = connection(stream, counters.clone());
                let counters = counters.clone();
                connections.spawn(async move {
                    serve.await;
                    counters.closed.fetch_add(1, Ordering::SeqCst);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Serves HTTP/1.1 with hyper on every connection, answering with `handler`. With
/// `idle`, the backend closes a keep-alive connection that waits longer than that
/// for its next request head.
pub(crate) fn spawn_http<H, Fut>(idle: Option<Duration>, handler: H) -> Backend
where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    spawn_tcp(move |stream, counters| {
        let handler = handler.clone();
        async move {
            let service = service_fn(move |request| {
                counters.request();
                let reply = handler(request);
                async move { Ok::<_, Infallible>(reply.await) }
            });
            let mut builder = http1::Builder::new();
            if let Some(idle) = idle {
                builder.timer(TokioTimer::new()).header_read_timeout(idle);
            }
            let served = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(error) = served.await {
                tracing::debug!("fake backend connection ended: {error}");
            }
        }
    })
}

/// A short plain-text response.
pub(crate) fn text(status: StatusCode, body: impl Into<Bytes>) -> Reply {
    let mut reply = Response::new(full(body));
    *reply.status_mut() = status;
    reply
}

/// A complete body for a [`Reply`].
pub(crate) fn full(body: impl Into<Bytes>) -> ReplyBody {
    Full::new(body.into())
        .map_err(|never: Infallible| match never {})
        .boxed()
}
