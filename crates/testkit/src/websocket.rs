//! WebSocket over real sockets (tokio-tungstenite): [`Backend::websocket`], an echo
//! server, and [`WsClient`], a client whose every wait is bounded by [`WAIT`].

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::{WebSocketStream, accept_hdr_async, client_async};

pub use tokio_tungstenite::tungstenite::Message;

use crate::backend::spawn_tcp;
use crate::{Backend, WAIT, within};

impl Backend {
    /// Accepts a WebSocket handshake on any path (counting it as the request
    /// `GET <path>`) and echoes every text and binary message until the client
    /// closes; a close is answered with a close.
    pub fn websocket() -> Backend {
        spawn_tcp(|stream, counters| async move {
            // The error type is tungstenite's, not ours to shrink.
            #[allow(clippy::result_large_err)]
            let count = |request: &Request, response: Response| {
                counters.request(format!("GET {}", request.uri()));
                Ok::<_, ErrorResponse>(response)
            };
            let Ok(mut ws) = accept_hdr_async(stream, count).await else {
                return;
            };
            while let Some(Ok(message)) = ws.next().await {
                // A close is answered by tungstenite itself; the stream then ends.
                if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                    return;
                }
            }
        })
    }
}

/// A WebSocket client connection.
#[derive(Debug)]
pub struct WsClient {
    ws: WebSocketStream<TcpStream>,
}

impl WsClient {
    /// Connects to `ws://addr/path` and completes the handshake. Panics on failure or
    /// after [`WAIT`].
    pub async fn connect(addr: SocketAddr, path: &str) -> WsClient {
        Self::try_connect(addr, path)
            .await
            .unwrap_or_else(|error| panic!("WebSocket to {addr}{path}: {error}"))
    }

    /// Like [`WsClient::connect`], a failed connection or handshake (a status other
    /// than `101`) being an `Err` that describes it. Still panics after [`WAIT`].
    pub async fn try_connect(addr: SocketAddr, path: &str) -> Result<WsClient, String> {
        within(WAIT, &format!("WebSocket handshake via {addr}"), async {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            let _ = stream.set_nodelay(true);
            let url = format!("ws://{addr}{path}");
            let (ws, _) = client_async(url, stream)
                .await
                .map_err(|e| format!("handshake: {e}"))?;
            Ok(WsClient { ws })
        })
        .await
    }

    /// Sends `message` and waits for the next message, which must be the same (an
    /// echo). Panics otherwise, or after [`WAIT`].
    pub async fn echo(&mut self, message: Message) {
        self.send(message.clone()).await;
        let answer = self.next().await;
        assert_eq!(answer, Some(message), "the echo differs");
    }

    /// Sends `message`. Panics on failure or after [`WAIT`].
    pub async fn send(&mut self, message: Message) {
        within(WAIT, "sending a WebSocket message", self.ws.send(message))
            .await
            .unwrap_or_else(|e| panic!("sending a WebSocket message: {e}"));
    }

    /// The next message; `None` once the connection has ended (closed or failed).
    /// Panics after [`WAIT`].
    pub async fn next(&mut self) -> Option<Message> {
        within(WAIT, "receiving a WebSocket message", self.ws.next())
            .await
            .and_then(Result::ok)
    }

    /// Whether the connection ends (the peer closed it, or it failed) within
    /// `limit`; messages that arrive meanwhile are dropped.
    pub async fn ends_within(&mut self, limit: Duration) -> bool {
        let ended = async { while let Some(Ok(_)) = self.ws.next().await {} };
        tokio::time::timeout(limit, ended).await.is_ok()
    }

    /// Sends a close and waits for the peer's close in answer.
    /// Panics if the peer does not close in answer within [`WAIT`].
    pub async fn close(mut self) {
        within(WAIT, "closing a WebSocket", async {
            self.ws
                .close(None)
                .await
                .unwrap_or_else(|e| panic!("sending a WebSocket close: {e}"));
            match self.ws.next().await {
                Some(Ok(Message::Close(_))) | None => {}
                Some(Ok(other)) => panic!("expected the close, got {other:?}"),
                Some(Err(e)) => panic!("the WebSocket failed while closing: {e}"),
            }
        })
        .await;
    }
}
