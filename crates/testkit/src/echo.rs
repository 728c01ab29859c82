//! [`Backend::echo`]: answers with the request it received, so a test can see exactly
//! what the proxy forwarded.

use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};

use std::convert::Infallible;
use std::sync::Arc;

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::Backend;
use crate::backend::{Counters, Reply, spawn_http};

/// Response headers the echo backend adds that must not cross a proxy: `Connection`
/// names `x-resp-hop`, and `keep-alive` is hop-by-hop by definition.
pub const ECHO_HOP_HEADERS: [(&str, &str); 3] = [
    ("connection", "x-resp-hop"),
    ("x-resp-hop", "1"),
    ("keep-alive", "timeout=5"),
];

/// An end-to-end response header the echo backend adds, which a proxy must pass on.
pub const ECHO_END_TO_END_HEADER: (&str, &str) = ("x-echo", "1");

/// The body of a raw chunked answer, its chunks' data joined: how a raw client reads
/// the echo backend's answer (streamed, so chunked). Assumes chunks without `\r\n`
/// in their data, as the echo's text has none.
pub fn dechunked(answer: &str) -> String {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    body.split("\r\n").skip(1).step_by(2).collect()
}

impl Backend {
    /// Answers `200` with a body made of the received request head as text, then the
    /// request body streamed back as it arrives. The head text is the request line
    /// (`METHOD path-and-query HTTP/1.1`), one `name: value` line per header field in
    /// the order hyper gives them (lower-case names), then an empty line; lines end in
    /// `\n`. Responses also carry [`ECHO_HOP_HEADERS`] and [`ECHO_END_TO_END_HEADER`].
    pub fn echo() -> Backend {
        spawn_http(None, |request| async move { answer(request) })
    }
}

pub(crate) fn answer(request: Request<Incoming>) -> Reply {
    let (head, body) = request.into_parts();
    let target = head.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut text = format!("{} {} {:?}\n", head.method, target, head.version);
    for (name, value) in &head.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        let _ = writeln!(text, "{name}: {value}");
    }
    text.push('\n');
    let mut reply = Response::new(
        Prefixed {
            prefix: Some(Bytes::from(text)),
            rest: body,
        }
        .boxed(),
    );
    let headers = reply.headers_mut();
    for (name, value) in ECHO_HOP_HEADERS.into_iter().chain([ECHO_END_TO_END_HEADER]) {
        headers.append(name, HeaderValue::from_static(value));
    }
    reply
}

/// A body that yields `prefix` first, then every frame of `rest`.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: Incoming,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        if let Some(prefix) = this.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut this.rest).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }
}

/// What the echo backend received, read back from its answer: the request line, the
/// header fields in order, and the body.
pub struct Echoed {
    /// `METHOD path-and-query HTTP/1.1`.
    pub request_line: String,
    /// `(name, value)` pairs, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The request body as text.
    pub body: String,
}

impl Echoed {
    /// Reads an echo answer's body.
    pub fn parse(echo: &str) -> Self {
        let (head, body) = echo.split_once("\n\n").unwrap_or((echo, ""));
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        Self {
            request_line,
            headers,
            body: body.to_string(),
        }
    }

    /// Every value of field `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The one value of field `name`; panics if there is none or several.
    pub fn one(&self, name: &str) -> &str {
        match self.all(name)[..] {
            [value] => value,
            ref other => panic!(
                "expected one {name} field, got {other:?} in {:?}",
                self.headers
            ),
        }
    }
}

/// Serves the echo answer on one accepted connection `stream` (TLS, say), over
/// HTTP/2 when `h2` (without the HTTP/1 hop-by-hop fields, which HTTP/2 forbids),
/// else HTTP/1.1; each request is counted in `counters`.
pub(crate) async fn serve_echo<S>(stream: S, counters: Arc<Counters>, h2: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: Request<Incoming>| {
        let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
        counters.request(format!("{} {target}", request.method()));
        let mut reply = answer(request);
        if h2 {
            for (name, _) in ECHO_HOP_HEADERS {
                reply.headers_mut().remove(name);
            }
        }
        async move { Ok::<_, Infallible>(reply) }
    });
    let io = TokioIo::new(stream);
    let served = if h2 {
        http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service)
            .await
    } else {
        http1::Builder::new().serve_connection(io, service).await
    };
    if let Err(error) = served {
        tracing::debug!("fake echo connection ended: {error}");
    }
}
