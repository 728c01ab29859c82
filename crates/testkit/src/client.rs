//! A small HTTP/1.1 client for tests, on hyper's connection API over plain
//! `TcpStream`s: [`get`] opens a fresh connection per call, [`Conn`] reuses one. Every
//! wait is bounded ([`WAIT`] unless a call takes its own limit) and panics with the
//! request in the message when it runs out.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::pattern::Digest;
use crate::{WAIT, within};

/// The body type of requests sent by this client.
pub type ClientBody = BoxBody<Bytes, Infallible>;

/// Status, headers and the body as (lossy UTF-8) text.
pub type TextResponse = (StatusCode, HeaderMap, String);

/// Sends `GET path` to `addr` on a fresh connection and reads the whole response.
/// `Host` is `addr` unless `headers` gives one. Panics on any failure or after [`WAIT`].
pub async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> TextResponse {
    try_get(addr, path, headers)
        .await
        .unwrap_or_else(|error| panic!("GET {path} via {addr} failed: {error}"))
}

/// Like [`get`], but a failed exchange (refused, reset, closed early) is an `Err`
/// describing it. Still panics after [`WAIT`].
pub async fn try_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<TextResponse, String> {
    exchange(addr, request(Method::GET, addr, path, headers, empty())).await
}

/// Like [`get`], on a fresh connection from local address `from` (e.g. `127.0.0.2`).
pub async fn get_from(
    from: IpAddr,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> TextResponse {
    let what = format!("GET {path} via {addr} from {from}");
    within(WAIT, &what, async {
        let mut conn = Conn::open_from(Some(from), addr).await?;
        let response = conn
            .send(request(Method::GET, addr, path, headers, empty()))
            .await?;
        read_text(response).await
    })
    .await
    .unwrap_or_else(|error| panic!("{what} failed: {error}"))
}

/// A TCP connection to `addr`, bound to `from` first when given.
async fn connect(from: Option<IpAddr>, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let Some(from) = from else {
        return TcpStream::connect(addr).await;
    };
    let socket = if from.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

/// Sends `request` to `addr` on a fresh connection and reads the whole response; a
/// failed exchange is an `Err` describing it. Panics after [`WAIT`].
pub async fn exchange(
    addr: SocketAddr,
    request: Request<ClientBody>,
) -> Result<TextResponse, String> {
    let what = format!("{} {} via {addr}", request.method(), request.uri());
    within(WAIT, &what, async {
        let mut conn = Conn::open(addr).await?;
        let response = conn.send(request).await?;
        read_text(response).await
    })
    .await
}

/// Builds a request for `path` on `addr`, with `Host: addr` unless `headers` has a Host.
pub fn request(
    method: Method,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: ClientBody,
) -> Request<ClientBody> {
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = path
        .parse()
        .unwrap_or_else(|e| panic!("bad request target {path:?}: {e}"));
    let map = request.headers_mut();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .unwrap_or_else(|e| panic!("bad header name {name:?}: {e}"));
        let value = HeaderValue::from_str(value)
            .unwrap_or_else(|e| panic!("bad header value {value:?}: {e}"));
        map.append(name, value);
    }
    if !map.contains_key(HOST) {
        let host = HeaderValue::from_str(&addr.to_string())
            .unwrap_or_else(|e| panic!("bad host {addr}: {e}"));
        map.insert(HOST, host);
    }
    request
}

/// An empty request body.
pub fn empty() -> ClientBody {
    Empty::new().boxed()
}

/// Any request body (a `Full`, a [`crate::PatternBody`]) as a [`ClientBody`].
pub fn body<B>(body: B) -> ClientBody
where
    B: Body<Data = Bytes, Error = Infallible> + Send + Sync + 'static,
{
    body.boxed()
}

/// One client connection, reused for every request sent on it.
#[derive(Debug)]
pub struct Conn {
    addr: SocketAddr,
    sender: SendRequest<ClientBody>,
}

impl Conn {
    /// Connects to `addr` and completes the HTTP/1.1 handshake. Panics after [`WAIT`].
    pub async fn open(addr: SocketAddr) -> Result<Conn, String> {
        Self::open_from(None, addr).await
    }

    /// Like [`Conn::open`], from local address `from` (port chosen by the system) when
    /// given: on Linux every `127.0.0.0/8` address is local, so tests can play several
    /// clients (`127.0.0.2`, `127.0.0.3` …).
    pub async fn open_from(from: Option<IpAddr>, addr: SocketAddr) -> Result<Conn, String> {
        within(WAIT, &format!("connecting to {addr}"), async {
            let stream = connect(from, addr)
                .await
                .map_err(|e| format!("connect to {addr}: {e}"))?;
            let _ = stream.set_nodelay(true);
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("handshake with {addr}: {e}"))?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!("test client connection ended: {error}");
                }
            });
            Ok(Conn { addr, sender })
        })
        .await
    }

    /// Whether the connection has closed (the peer closed it or it failed).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Sends `GET path` on this connection and reads the whole response. Panics on
    /// any failure or after [`WAIT`].
    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> TextResponse {
        let addr = self.addr;
        let request = request(Method::GET, addr, path, headers, empty());
        let exchange = async {
            let response = self.send(request).await?;
            read_text(response).await
        };
        within(WAIT, &format!("GET {path} via {addr}"), exchange)
            .await
            .unwrap_or_else(|error| panic!("GET {path} via {addr} failed: {error}"))
    }

    /// Sends a request and waits (bounded by [`WAIT`]) for the response head. The
    /// caller reads the body, bounding that itself.
    pub async fn send(
        &mut self,
        request: Request<ClientBody>,
    ) -> Result<Response<Incoming>, String> {
        self.send_within(WAIT, request).await
    }

    /// Like [`Conn::send`] with its own limit, for large request bodies.
    pub async fn send_within(
        &mut self,
        limit: Duration,
        request: Request<ClientBody>,
    ) -> Result<Response<Incoming>, String> {
        let what = format!("{} {} via {}", request.method(), request.uri(), self.addr);
        within(limit, &what, async {
            self.sender
                .ready()
                .await
                .map_err(|e| format!("connection not ready: {e}"))?;
            self.sender
                .send_request(request)
                .await
                .map_err(|e| format!("{what}: {e}"))
        })
        .await
    }
}

/// Reads a response's whole body as text. Not bounded: wrap it in [`within`].
pub async fn read_text(response: Response<Incoming>) -> Result<TextResponse, String> {
    let (head, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok((head.status, head.headers, text))
}

/// Reads a response's body frame by frame into a [`Digest`] and returns its
/// `sha256=<hex> bytes=<n>` text, never holding the body whole. Not bounded.
pub async fn read_digest(response: Response<Incoming>) -> Result<String, String> {
    let mut body = response.into_body();
    let mut digest = Digest::default();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("reading the body: {e}"))?;
        if let Some(data) = frame.data_ref() {
            digest.update(data);
        }
    }
    Ok(digest.finish())
}

/// Writes `bytes` on a fresh connection to `addr` and returns everything the peer
/// sends until it closes the connection (lossy UTF-8). Panics after [`WAIT`].
pub async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> String {
    within(WAIT, &format!("raw exchange with {addr}"), async {
        let mut stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream
            .write_all(bytes)
            .await
            .unwrap_or_else(|e| panic!("write to {addr}: {e}"));
        let mut received = Vec::new();
        // A reset after the answer still leaves what arrived before it.
        let _ = stream.read_to_end(&mut received).await;
        String::from_utf8_lossy(&received).into_owned()
    })
    .await
}
