//! An HTTP/2 client for tests: one connection ([`H2Conn`]) carrying many streams at
//! once, over cleartext with prior knowledge ([`H2Conn::open`]) or over any stream a
//! test already set up, such as a TLS one ([`H2Conn::over`]). Every wait is bounded by
//! [`WAIT`].

use std::net::SocketAddr;

use http::{Method, Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper::rt::{Read, Write};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::client::{ClientBody, TextResponse, empty, read_text};
use crate::{WAIT, within};

/// One HTTP/2 connection; clones share it (each request is a stream of its own).
#[derive(Clone, Debug)]
pub struct H2Conn {
    authority: String,
    scheme: &'static str,
    sender: SendRequest<ClientBody>,
}

impl H2Conn {
    /// Connects to `addr` over cleartext and speaks HTTP/2 at once (prior knowledge,
    /// RFC 9113 §3.3).
    pub async fn open(addr: SocketAddr) -> Result<H2Conn, String> {
        Self::open_as(addr, "http").await
    }

    /// Like [`H2Conn::open`], with requests naming `scheme` (a client that claims
    /// `https` on cleartext, say).
    pub async fn open_as(addr: SocketAddr, scheme: &'static str) -> Result<H2Conn, String> {
        let stream = within(
            WAIT,
            &format!("connecting to {addr}"),
            TcpStream::connect(addr),
        )
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        Self::over(TokioIo::new(stream), &addr.to_string(), scheme).await
    }

    /// Speaks HTTP/2 over `io` (already connected, e.g. TLS with ALPN `h2`); requests
    /// name `authority` and `scheme`.
    pub async fn over<I>(io: I, authority: &str, scheme: &'static str) -> Result<H2Conn, String>
    where
        I: Read + Write + Unpin + Send + 'static,
    {
        let handshake = http2::handshake(TokioExecutor::new(), io);
        let (sender, connection) = within(WAIT, "the HTTP/2 handshake", handshake)
            .await
            .map_err(|e| format!("HTTP/2 handshake with {authority}: {e}"))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!("test HTTP/2 connection ended: {error}");
            }
        });
        Ok(H2Conn {
            authority: authority.to_owned(),
            scheme,
            sender,
        })
    }

    /// Whether the connection has closed (or the server sent GOAWAY and it ended).
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// A request for `path` on this connection's authority.
    pub fn request(&self, method: Method, path: &str, body: ClientBody) -> Request<ClientBody> {
        let uri = Uri::builder()
            .scheme(self.scheme)
            .authority(self.authority.as_str())
            .path_and_query(path)
            .build()
            .unwrap_or_else(|e| panic!("bad test URI for {path}: {e}"));
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.version_mut() = http::Version::HTTP_2;
        request
    }

    /// Sends `request` as a new stream and waits (bounded by [`WAIT`]) for its head.
    pub async fn send(&self, request: Request<ClientBody>) -> Result<Response<Incoming>, String> {
        let what = format!("{} {} over HTTP/2", request.method(), request.uri());
        let mut sender = self.sender.clone();
        within(WAIT, &what, async {
            sender
                .ready()
                .await
                .map_err(|e| format!("connection not ready: {e}"))?;
            sender
                .send_request(request)
                .await
                .map_err(|e| format!("{what}: {e}"))
        })
        .await
    }

    /// `GET path` as a new stream, read whole. Panics on any failure or after [`WAIT`].
    pub async fn get(&self, path: &str) -> TextResponse {
        let request = self.request(Method::GET, path, empty());
        let exchange = async {
            let response = self.send(request).await?;
            within(WAIT, "reading an HTTP/2 body", read_text(response)).await
        };
        exchange
            .await
            .unwrap_or_else(|error| panic!("GET {path} over HTTP/2 failed: {error}"))
    }
}
