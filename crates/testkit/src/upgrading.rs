//! Raw upgraded tunnels (not WebSocket), for tests of what a proxy does with the bytes
//! after a `101`: [`Backend::upgrading`], which switches to two toy protocols written
//! on plain TCP sockets, and [`upgrade`], a client that asks for one and hands back
//! the socket.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::pattern::Digest;
use crate::raw::Heads;
use crate::{Backend, WAIT, within};

/// What [`Backend::upgrading`] writes after the echo, once the client has shut down
/// its side of an `echo-test` tunnel.
pub const ECHO_END: &[u8] = b"end of echo\n";

/// Bytes read at a time by the tunnel backends and [`upgrade`].
const READ: usize = 64 * 1024;

impl Backend {
    /// Reads a request head and, if its `Upgrade` names one of these protocols,
    /// answers `101` with `Upgrade: <that protocol>` and speaks it:
    /// - `echo-test`: echoes every byte (those sent with the head too) until the client
    ///   shuts down its side, then writes [`ECHO_END`] and closes;
    /// - `sink-test`: reads until the client shuts down its side, hashing every byte,
    ///   then writes `sha256=<hex> bytes=<n>` ([`crate::pattern`]) and closes.
    ///
    /// Any other request is answered `400` and the connection closed. Counts each
    /// request (`METHOD target`).
    pub fn upgrading() -> Backend {
        crate::backend::spawn_tcp(|mut stream, counters| async move {
            let mut heads = Heads::default();
            let Some(head) = heads.head(&mut stream).await else {
                return;
            };
            counters.request(crate::raw::request_line(head.as_bytes()));
            let protocol = field(&head, "upgrade").unwrap_or_default();
            let early = std::mem::take(&mut heads.buffer);
            let _ = match protocol.as_str() {
                "echo-test" => echo(stream, &early).await,
                "sink-test" => sink(stream, &early).await,
                _ => {
                    let refusal = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                    stream.write_all(refusal).await
                }
            };
        })
    }
}

/// The value of field `name` (lower case) in a request head, trimmed.
fn field(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// The `101` switching to `protocol`.
fn switching(protocol: &str) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: {protocol}\r\n\r\n"
    )
}

async fn echo(mut stream: TcpStream, early: &[u8]) -> std::io::Result<()> {
    stream.write_all(switching("echo-test").as_bytes()).await?;
    stream.write_all(early).await?;
    let mut buffer = vec![0u8; READ];
    loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&buffer[..n]).await?;
    }
    stream.write_all(ECHO_END).await?;
    stream.shutdown().await
}

async fn sink(mut stream: TcpStream, early: &[u8]) -> std::io::Result<()> {
    stream.write_all(switching("sink-test").as_bytes()).await?;
    let mut digest = Digest::default();
    digest.update(early);
    let mut buffer = vec![0u8; READ];
    loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        digest.update(&buffer[..n]);
    }
    stream.write_all(digest.finish().as_bytes()).await?;
    stream.shutdown().await
}

/// Connects to `addr`, sends `GET path` asking to upgrade to `protocol` (with
/// `Connection: upgrade`), followed at once by `early` bytes, and reads the response
/// head. Returns the head (lossy UTF-8, up to its empty line), the socket, and what
/// came after the head in the same reads. Panics on failure or after [`WAIT`].
pub async fn upgrade(
    addr: SocketAddr,
    path: &str,
    protocol: &str,
    early: &[u8],
) -> (String, TcpStream, Vec<u8>) {
    within(WAIT, &format!("upgrading to {protocol} via {addr}"), async {
        let mut stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        let _ = stream.set_nodelay(true);
        let head = format!(
            "GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: upgrade\r\nupgrade: {protocol}\r\n\r\n"
        );
        let mut request = head.into_bytes();
        request.extend_from_slice(early);
        stream
            .write_all(&request)
            .await
            .unwrap_or_else(|e| panic!("write to {addr}: {e}"));
        let (head, rest) = response_head(&mut stream).await;
        (head, stream, rest)
    })
    .await
}

/// Reads a response head from `stream`: the head and the bytes read past it. Panics
/// if the stream closes first, or after [`WAIT`].
pub async fn response_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    within(WAIT, "reading a response head", read_head(stream)).await
}

async fn read_head(stream: &mut TcpStream) -> (String, Vec<u8>) {
    let mut received = Vec::new();
    let mut buffer = vec![0u8; READ];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = received.split_off(end + 4);
            return (String::from_utf8_lossy(&received).into_owned(), rest);
        }
        let n = stream
            .read(&mut buffer)
            .await
            .unwrap_or_else(|e| panic!("reading a response head: {e}"));
        assert!(n > 0, "closed before a whole response head: {received:?}");
        received.extend_from_slice(&buffer[..n]);
    }
}

/// Reads `stream` until the peer closes it, after `start`. Panics on an error or after
/// [`WAIT`].
pub async fn read_to_end(stream: &mut TcpStream, start: Vec<u8>) -> Vec<u8> {
    let mut received = start;
    within(
        WAIT,
        "reading a tunnel to its end",
        stream.read_to_end(&mut received),
    )
    .await
    .unwrap_or_else(|e| panic!("reading a tunnel: {e}"));
    received
}
