//! Misbehaving backends written directly on TCP sockets, since a correct HTTP server
//! cannot misbehave on purpose: [`Backend::stalling`], [`Backend::flaky`],
//! [`Backend::garbage`], [`Backend::answering`], [`Backend::replying`], [`Backend::closing`],
//! [`Backend::idle_closing`], [`Backend::hanging_up`], [`Backend::silent`],
//! [`Backend::stalling_mid_body`] and [`Backend::trickling`].

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Backend;

/// Largest request head the raw backends read; their tests send small heads.
const MAX_HEAD: usize = 64 * 1024;

/// The complete `200 ok` response the raw backends send. It announces keep-alive
/// (HTTP/1.1 default, no `Connection: close`).
const OK_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

impl Backend {
    /// Accepts TCP connections and never reads from or writes to them; they stay
    /// open until the backend is dropped.
    pub fn stalling() -> Backend {
        crate::backend::spawn_tcp(|stream, _| async move {
            let _held = stream;
            std::future::pending::<()>().await;
        })
    }

    /// The first `failures` requests (over all connections) have their connection
    /// closed right after their head is read, without a response; later ones are
    /// answered `200 ok` on a keep-alive connection. Requests must have no body.
    pub fn flaky(failures: usize) -> Backend {
        crate::backend::spawn_tcp(move |mut stream, counters| async move {
            let mut heads = Heads::default();
            while let Some(line) = heads.next(&mut stream).await {
                if counters.next_request(line) < failures {
                    return;
                }
                if stream.write_all(OK_RESPONSE).await.is_err() {
                    return;
                }
            }
        })
    }

    /// Reads and discards whatever arrives and never answers, counting request heads;
    /// unlike [`Backend::stalling`] it closes its side once the peer has closed (or
    /// reset) the connection, so [`Backend::closed`] tells how many connections the
    /// peer gave up on.
    pub fn silent() -> Backend {
        crate::backend::spawn_tcp(|mut stream, counters| async move {
            let mut heads = Heads::default();
            while let Some(line) = heads.next(&mut stream).await {
                counters.request(line);
            }
        })
    }

    /// Reads each request head and closes the connection without answering: a backend
    /// that crashes on every request once it has it. Counts every request, so a test
    /// can tell whether a proxy sent one again. A request body is not read.
    pub fn hanging_up() -> Backend {
        Backend::flaky(usize::MAX)
    }

    /// Reads each connection's request head, answers with bytes that are not HTTP
    /// (`not http\r\n\r\n`) and closes.
    pub fn garbage() -> Backend {
        Backend::answering(b"not http\r\n\r\n")
    }

    /// Reads each connection's request head, writes `answer` as it is (a response no
    /// correct server would send: an unsolicited `101`, bad framing …) and closes.
    pub fn answering(answer: &'static [u8]) -> Backend {
        crate::backend::spawn_tcp(move |mut stream, counters| async move {
            if let Some(line) = Heads::default().next(&mut stream).await {
                counters.request(line);
                let _ = stream.write_all(answer).await;
                lingering_close(stream).await;
            }
        })
    }

    /// Answers the first request of each connection `200 ok` without announcing a
    /// close, then closes the connection: a backend whose keep-alive timeout is
    /// effectively zero. A client that reuses the connection finds it closed.
    pub fn closing() -> Backend {
        crate::backend::spawn_tcp(|mut stream, counters| async move {
            if let Some(line) = Heads::default().next(&mut stream).await {
                counters.request(line);
                let _ = stream.write_all(OK_RESPONSE).await;
                lingering_close(stream).await;
            }
        })
    }
}

/// Half-closes `stream`, then reads and drops what the proxy still sends (a request
/// body not read) until it closes too, for at most [`crate::WAIT`]: closed with
/// unread bytes, the socket would send a reset, and a reset makes the proxy's kernel
/// drop the answer's bytes it has not read yet (what a test then finds missing).
async fn lingering_close(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let drain = async {
        let mut scratch = [0u8; 4096];
        while let Ok(1..) = stream.read(&mut scratch).await {}
    };
    let _ = tokio::time::timeout(crate::WAIT, drain).await;
}

impl Backend {
    /// Answers every request head on a connection with `answer`, as it is, and keeps
    /// the connection open for the next one: framings no correct server would mix
    /// (interim responses, trailers, bytes past the body) on a kept-alive connection,
    /// so a test sees whether the proxy reuses it ([`Backend::accepts`]).
    pub fn replying(answer: &'static [u8]) -> Backend {
        crate::backend::spawn_tcp(move |mut stream, counters| async move {
            let mut heads = Heads::default();
            while let Some(line) = heads.next(&mut stream).await {
                counters.request(line);
                if stream.write_all(answer).await.is_err() {
                    return;
                }
            }
        })
    }

    /// Answers the first `answered` requests of each connection `200 ok` on a
    /// keep-alive connection, then reads the next heads and never answers, holding
    /// the connection open: a backend that stalls on a reused connection.
    pub fn stalling_after(answered: usize) -> Backend {
        crate::backend::spawn_tcp(move |mut stream, counters| async move {
            let mut heads = Heads::default();
            let mut served = 0;
            while let Some(line) = heads.next(&mut stream).await {
                counters.request(line);
                if served < answered {
                    served += 1;
                    if stream.write_all(OK_RESPONSE).await.is_err() {
                        return;
                    }
                }
            }
        })
    }

    /// Answers the first request of each connection `200 ok` on a keep-alive
    /// connection, then reads the second request's head and closes without answering:
    /// the race of a backend's keep-alive timeout firing just as a reused connection
    /// carries a request. Counts every request.
    pub fn idle_closing() -> Backend {
        crate::backend::spawn_tcp(|mut stream, counters| async move {
            let mut heads = Heads::default();
            if let Some(line) = heads.next(&mut stream).await {
                counters.request(line);
                if stream.write_all(OK_RESPONSE).await.is_err() {
                    return;
                }
            }
            if let Some(line) = heads.next(&mut stream).await {
                counters.request(line);
            }
        })
    }
}

impl Backend {
    /// Answers each connection's first request (a body is not read) with a head that
    /// frames [`STALLED_BODY`] bytes and sends only `hello` of them, then sends nothing
    /// more, reading until the peer closes: a backend that hangs mid-body.
    /// [`Backend::closed`] counts the connections the peer gave up on.
    pub fn stalling_mid_body() -> Backend {
        crate::backend::spawn_tcp(|mut stream, counters| async move {
            let mut heads = Heads::default();
            if let Some(line) = heads.next(&mut stream).await {
                counters.request(line);
                let head =
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {STALLED_BODY}\r\n\r\nhello");
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut sink = [0u8; 4096];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            }
        })
    }

    /// Answers each request (a body is not read) with a chunked body of `chunks`
    /// chunks of `chunk` bytes, one every `gap`, on a keep-alive connection: a slow
    /// but live stream (server-sent events, a long report).
    pub fn trickling(chunks: usize, chunk: usize, gap: std::time::Duration) -> Backend {
        crate::backend::spawn_tcp(move |mut stream, counters| async move {
            let mut heads = Heads::default();
            while let Some(line) = heads.next(&mut stream).await {
                counters.request(line);
                let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head).await.is_err() {
                    return;
                }
                for _ in 0..chunks {
                    tokio::time::sleep(gap).await;
                    let piece = format!("{chunk:x}\r\n{}\r\n", "x".repeat(chunk));
                    if stream.write_all(piece.as_bytes()).await.is_err() {
                        return;
                    }
                }
                if stream.write_all(b"0\r\n\r\n").await.is_err() {
                    return;
                }
            }
        })
    }
}

/// The length [`Backend::stalling_mid_body`] announces.
pub const STALLED_BODY: usize = 100;

/// Splits a byte stream into request heads (bodies are not expected).
#[derive(Default)]
pub(crate) struct Heads {
    /// Bytes read past the last head taken.
    pub(crate) buffer: Vec<u8>,
}

impl Heads {
    /// Reads until a whole head (ending in an empty line) has arrived, consumes it and
    /// returns its `METHOD target`. `None` when the peer closed first, on an error, or
    /// when the head is too big.
    pub(crate) async fn next(&mut self, stream: &mut TcpStream) -> Option<String> {
        self.head(stream)
            .await
            .map(|head| request_line(head.as_bytes()))
    }

    /// Like [`Heads::next`], returning the whole head (lossy UTF-8, with its empty
    /// line).
    pub(crate) async fn head(&mut self, stream: &mut TcpStream) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buffer.drain(..end + 4).collect();
                return Some(String::from_utf8_lossy(&head).into_owned());
            }
            if self.buffer.len() > MAX_HEAD {
                return None;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// `METHOD target` of a request head: its first line without the version.
pub(crate) fn request_line(head: &[u8]) -> String {
    let first = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    format!("{method} {target}")
}
