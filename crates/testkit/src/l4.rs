//! Layer-4 backends on raw TCP sockets: [`Backend::tcp_echo`] (every byte back,
//! a half-close answered with one), [`Backend::banner`] (speaks first),
//! [`Backend::proxy_reading`] (reads a PROXY header and says what it named),
//! [`Backend::answering_after_eof`] (answers a half-closed request in bulk) and
//! [`Backend::tcp_resetting`] (dies mid-session).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Backend;

impl Backend {
    /// Writes back every byte it reads; when the peer half-closes, it finishes
    /// writing and half-closes too, so the peer reads to the end.
    pub fn tcp_echo() -> Backend {
        crate::backend::spawn_tcp(|stream, _| echo(stream, Vec::new()))
    }

    /// Writes `banner` as soon as a connection is accepted, before reading
    /// anything (SMTP's greeting), then echoes like [`Backend::tcp_echo`].
    pub fn banner(banner: &'static str) -> Backend {
        crate::backend::spawn_tcp(move |stream, _| echo(stream, banner.as_bytes().to_vec()))
    }

    /// Reads a PROXY header (either version) first and answers one line,
    /// `<source> <destination>\n` as the header named them (`local\n` for a header
    /// naming no client, `invalid: <why>\n` for none), then echoes.
    pub fn proxy_reading() -> Backend {
        crate::backend::spawn_tcp(|mut stream, _| async move {
            let (line, rest) = match sluicegate_transport::read_proxy_header(&mut stream).await {
                Ok(header) => match header.addresses {
                    Some((source, destination)) => {
                        (format!("{source} {destination}\n"), header.rest.to_vec())
                    }
                    None => ("local\n".to_owned(), header.rest.to_vec()),
                },
                Err(error) => (format!("invalid: {error}\n"), Vec::new()),
            };
            let mut first = line.into_bytes();
            first.extend_from_slice(&rest);
            echo(stream, first).await;
        })
    }
}

impl Backend {
    /// Reads until the peer half-closes, then writes `size` bytes of the pattern
    /// (byte `i` is `i % 251`, as [`crate::PatternBody`]) and closes: a server that
    /// answers only once it has the whole request.
    pub fn answering_after_eof(size: usize) -> Backend {
        crate::backend::spawn_tcp(move |mut stream, _| async move {
            let mut scratch = vec![0u8; 64 * 1024];
            while let Ok(1..) = stream.read(&mut scratch).await {}
            let mut sent = 0;
            while sent < size {
                let len = (size - sent).min(crate::pattern::CHUNK);
                let piece = crate::pattern::chunk(sent as u64, len);
                if stream.write_all(&piece).await.is_err() {
                    return;
                }
                sent += len;
            }
            let _ = stream.shutdown().await;
        })
    }

    /// Echoes its first read; at its second it resets the connection (`SO_LINGER`
    /// 0, so the close sends RST): a backend that dies in the middle of a session,
    /// once the peer has had the echo (a reset can drop bytes not yet read).
    pub fn tcp_resetting() -> Backend {
        crate::backend::spawn_tcp(|mut stream, _| async move {
            let mut buf = vec![0u8; 64 * 1024];
            if let Ok(n @ 1..) = stream.read(&mut buf).await {
                let _ = stream.write_all(&buf[..n]).await;
            }
            let _ = stream.read(&mut buf).await;
            let _ = socket2::SockRef::from(&stream).set_linger(Some(std::time::Duration::ZERO));
            drop(stream);
        })
    }
}

/// Writes `first`, then echoes `stream` until it half-closes, then half-closes.
async fn echo(mut stream: TcpStream, first: Vec<u8>) {
    if !first.is_empty() && stream.write_all(&first).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.shutdown().await;
}
