//! The [`Backend`] handle and the accept loop every fake backend shares.
//!
//! Each backend is one tokio task owning its listener and a `JoinSet` of its
//! connections; dropping the handle aborts the task, which drops the listener and
//! aborts every connection, so the sockets close at once.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
use tokio::task::{JoinHandle, JoinSet};

use crate::{HEALTH_PATH, WAIT, within};

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
    /// Bytes of generated download bodies handed to the HTTP server ([`Backend::sink`]).
    generated: AtomicU64,
    /// Request bodies that failed to arrive whole ([`Backend::sink`]).
    cut: AtomicUsize,
    /// `METHOD target` of every request, in arrival order.
    lines: Mutex<Vec<String>>,
}

impl Counters {
    /// Counts one request whose head has arrived; `line` is its `METHOD target`.
    pub(crate) fn request(&self, line: String) {
        self.next_request(line);
    }

    /// Counts one request (`line` is its `METHOD target`) and returns how many had
    /// arrived before it.
    pub(crate) fn next_request(&self, line: String) -> usize {
        // The line first, so that `requests() == n` implies `request_lines().len() >= n`.
        if let Ok(mut lines) = self.lines.lock() {
            lines.push(line);
        }
        self.requests.fetch_add(1, Ordering::SeqCst)
    }

    /// Counts a request body that failed to arrive whole.
    pub(crate) fn cut(&self) {
        self.cut.fetch_add(1, Ordering::SeqCst);
    }

    /// Counts `n` bytes of a generated body handed to the server.
    pub(crate) fn generated(&self, n: u64) {
        self.generated.fetch_add(n, Ordering::SeqCst);
    }
}

/// A running fake backend (or, for [`Backend::refusing`], an address nothing listens
/// on). Dropping it aborts its task, so its listener and every connection close as
/// soon as the runtime processes the abort (not synchronously in `drop`).
#[derive(Debug)]
pub struct Backend {
    addr: SocketAddr,
    counters: Arc<Counters>,
    task: Option<JoinHandle<()>>,
}

impl Backend {
    /// The address the backend listens on: `127.0.0.1:<port>`, or `[::1]:<port>` for
    /// one of [`Backend::named_localhost`].
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

    /// Bytes of generated download bodies the backend has handed to its HTTP server
    /// so far ([`Backend::sink`]'s `/download`): what the peer has read, plus what
    /// the socket buffers and the server's own buffer hold.
    pub fn generated(&self) -> u64 {
        self.counters.generated.load(Ordering::SeqCst)
    }

    /// Request bodies that did not arrive whole: the connection closed or reset, or
    /// the framing broke, before the body's end ([`Backend::sink`]). A body cut but
    /// re-framed as complete on the way would not count.
    pub fn uploads_cut(&self) -> usize {
        self.counters.cut.load(Ordering::SeqCst)
    }

    /// Connections the backend has finished with (it closed them or the peer did).
    pub fn closed(&self) -> usize {
        self.counters.closed.load(Ordering::SeqCst)
    }

    /// `METHOD target` (e.g. `GET /healthz`, `POST /orders?id=1`) of every request
    /// received so far, in arrival order, health checks included.
    pub fn request_lines(&self) -> Vec<String> {
        self.counters
            .lines
            .lock()
            .map(|lines| lines.clone())
            .unwrap_or_default()
    }

    /// Requests received so far other than those to [`HEALTH_PATH`]: the traffic a
    /// backend served, without the proxy's HTTP health checks.
    pub fn served(&self) -> usize {
        self.count_lines(|line| !is_health_check(line))
    }

    /// Requests received so far to [`HEALTH_PATH`] (the proxy's HTTP health checks).
    pub fn health_checks(&self) -> usize {
        self.count_lines(is_health_check)
    }

    fn count_lines(&self, counted: impl Fn(&str) -> bool) -> usize {
        self.counters
            .lines
            .lock()
            .map(|lines| lines.iter().filter(|line| counted(line)).count())
            .unwrap_or_default()
    }

    /// Stops the backend as a crash would: its listener closes (connecting to its
    /// address is refused once this returns) and its connections are aborted (they
    /// close a moment later, when the runtime runs the aborts). Panics after [`WAIT`].
    /// The address can be served again with [`Backend::named_on`].
    pub async fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // The handle resolves once the task's future, and so the listener, is dropped.
            let _ = within(WAIT, "stopping a backend", task).await;
        }
    }

    /// A handle for an address nothing listens on: connecting to it is refused.
    pub fn refusing() -> Backend {
        Backend {
            addr: crate::free_port(),
            counters: Arc::default(),
            task: None,
        }
    }
}

impl Backend {
    /// Listens with room for one connection in its accept queue, fills it with a
    /// connection of its own and never accepts: a later connect gets no answer to its
    /// SYN (Linux drops SYNs to a full accept queue) and waits until its own timeout,
    /// as with a backend overloaded past its queue or behind a firewall that drops.
    /// Must be called inside a tokio runtime.
    pub fn unaccepting() -> Backend {
        let socket =
            tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("cannot open a socket: {e}"));
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
        let listener = socket
            .listen(0)
            .unwrap_or_else(|e| panic!("cannot listen: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        // The queue's one place, taken: the handshake completes without an accept.
        let filler = std::net::TcpStream::connect_timeout(&addr, WAIT)
            .unwrap_or_else(|e| panic!("cannot fill the accept queue of {addr}: {e}"));
        let task = tokio::spawn(async move {
            let _held = (listener, filler);
            std::future::pending::<()>().await;
        });
        Backend {
            addr,
            counters: Arc::default(),
            task: Some(task),
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

/// Whether a `METHOD target` line is a request to [`HEALTH_PATH`].
fn is_health_check(line: &str) -> bool {
    let target = line.split_once(' ').map_or("", |(_, target)| target);
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    path == HEALTH_PATH
}

/// Binds `127.0.0.1:0` and runs `connection` on every accepted socket. Must be called
/// inside a tokio runtime.
pub(crate) fn spawn_tcp<H, Fut>(connection: H) -> Backend
where
    H: Fn(TcpStream, Arc<Counters>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    spawn_tcp_on(bind(), connection)
}

/// Runs `connection` on every socket accepted by `listener`.
pub(crate) fn spawn_tcp_on<H, Fut>(listener: TcpListener, connection: H) -> Backend
where
    H: Fn(TcpStream, Arc<Counters>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"));
    let counters = Arc::new(Counters::default());
    let task = tokio::spawn(accept_loop(listener, counters.clone(), connection));
    Backend {
        addr,
        counters,
        task: Some(task),
    }
}

/// Binds `addr`, retrying while it is still in use (a backend just killed there may
/// not have closed its listener yet). Panics if it cannot be bound within [`WAIT`].
pub(crate) async fn bind_on(addr: SocketAddr) -> TcpListener {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                if tokio::time::Instant::now() >= deadline {
                    panic!("{addr} still in use after {WAIT:?}");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot bind {addr}: {e}"),
        }
    }
}

pub(crate) fn bind() -> TcpListener {
    tokio_listener(crate::ports::bind_v4())
}

/// `std` as a tokio listener. Must be called inside a tokio runtime.
pub(crate) fn tokio_listener(std: std::net::TcpListener) -> TcpListener {
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
    spawn_http_on(bind(), idle, handler)
}

/// Like [`spawn_http`], on `listener`.
pub(crate) fn spawn_http_on<H, Fut>(
    listener: TcpListener,
    idle: Option<Duration>,
    handler: H,
) -> Backend
where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    spawn_http_counted(listener, idle, move |request, _| handler(request))
}

/// Like [`spawn_http_on`], the handler given the backend's counters too.
pub(crate) fn spawn_http_counted<H, Fut>(
    listener: TcpListener,
    idle: Option<Duration>,
    handler: H,
) -> Backend
where
    H: Fn(Request<Incoming>, Arc<Counters>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    spawn_tcp_on(listener, move |stream, counters| {
        let handler = handler.clone();
        async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
                counters.request(format!("{} {target}", request.method()));
                let reply = handler(request, counters.clone());
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
