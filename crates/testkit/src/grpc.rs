//! [`Backend::grpc`]: a gRPC server in the wire format of gRPC over HTTP/2 (each
//! message a 5-byte prefix and its bytes; the status in trailers), over cleartext
//! HTTP/2, with three methods: `/test.Echo/Unary` answers the request's messages
//! once the request ends; `/test.Echo/ServerStream` answers them three times;
//! `/test.Echo/Bidi` echoes each chunk as it arrives. Every answer ends with the
//! trailers `grpc-status: 0` and `grpc-message: ok` (`13` when the call came without
//! `te: trailers`, as real gRPC servers refuse it), and carries the `grpc-timeout` it
//! received (if any) back in `x-grpc-timeout`. Plus [`grpc_message`] to frame one.

use std::convert::Infallible;

use bytes::{BufMut, Bytes, BytesMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::Backend;
use crate::backend::{Reply, bind, spawn_tcp_on};

/// `payload` as one gRPC message (uncompressed).
pub fn grpc_message(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + payload.len());
    out.put_u8(0);
    out.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    out.put_slice(payload);
    out.freeze()
}

impl Backend {
    /// The gRPC server described in the module docs.
    pub fn grpc() -> Backend {
        spawn_tcp_on(bind(), move |stream, counters| async move {
            let service = service_fn(move |request: Request<Incoming>| {
                counters.request(format!("{} {}", request.method(), request.uri().path()));
                async move { Ok::<_, Infallible>(call(request).await) }
            });
            let served = http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!("fake gRPC connection ended: {error}");
            }
        })
    }
}

async fn call(request: Request<Incoming>) -> Reply {
    let timeout = request.headers().get("grpc-timeout").cloned();
    // As grpc-java and others do: a call without `te: trailers` is refused.
    let te = request.headers().get("te").is_some_and(|v| v == "trailers");
    let path = request.uri().path().to_owned();
    let mut body = request.into_body();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        if path == "/test.Echo/Bidi" {
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data()
                    && tx.send(Frame::data(data)).await.is_err()
                {
                    return;
                }
            }
        } else {
            let all = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let times = if path == "/test.Echo/ServerStream" {
                3
            } else {
                1
            };
            for _ in 0..times {
                let _ = tx.send(Frame::data(all.clone())).await;
            }
        }
        let _ = tx.send(trailers(te)).await;
    });
    let mut reply = Response::new(ChannelBody(rx).boxed());
    let headers = reply.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    if let Some(timeout) = timeout {
        headers.insert("x-grpc-timeout", timeout);
    }
    reply
}

/// A response body fed frame by frame through a channel.
struct ChannelBody(tokio::sync::mpsc::Receiver<Frame<Bytes>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        self.0.poll_recv(cx).map(|frame| frame.map(Ok))
    }
}

fn trailers(te: bool) -> Frame<Bytes> {
    let mut trailers = HeaderMap::new();
    let (status, message) = if te {
        ("0", "ok")
    } else {
        ("13", "te: trailers required")
    };
    trailers.insert("grpc-status", HeaderValue::from_static(status));
    trailers.insert("grpc-message", HeaderValue::from_static(message));
    Frame::trailers(trailers)
}

/// A request body the test writes chunk by chunk (for streaming calls): dropping the
/// sender ends it.
pub fn streaming_body() -> (tokio::sync::mpsc::Sender<Bytes>, crate::client::ClientBody) {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    (tx, ClientChannel(rx).boxed())
}

/// [`streaming_body`]'s body.
struct ClientChannel(tokio::sync::mpsc::Receiver<Bytes>);

impl Body for ClientChannel {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|data| data.map(|d| Ok(Frame::data(d))))
    }
}
