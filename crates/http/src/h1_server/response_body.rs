//! Writing one response to the client: its head ([`super::response_head`]), then its
//! body frame by frame in the head's framing, never held whole.
//!
//! Small frames are copied behind the head into the connection's write buffer, so a
//! short response leaves in one write; a frame past [`COPY_LIMIT`] is written from
//! its own bytes. The buffer goes out whenever the body has nothing ready (so a
//! streamed body reaches the client as it comes) and at the end. While the body has
//! nothing ready the client is watched as hyper watches it ([`Watch`]): a client
//! that closes ends the response there, not at the next write. A body is dropped
//! once its length is written, as hyper drops it. Trailers are not written: hyper
//! writes them only for a response that announced them in `Trailer`, a field the
//! proxy removes.

use std::io;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use bytes::BytesMut;
use http::Response;
use hyper::body::Body;
use sluicegate_upstream::spare_maps;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::response_head::{self, Asked, Framing};
use crate::body::ProxyBody;

/// Frames up to this size are copied into the write buffer (one write for head and
/// body); larger ones are written from their own bytes (a copy would cost more than
/// the second write).
const COPY_LIMIT: usize = 16 * 1024;
/// The write buffer goes out once it holds this much, whatever the body does next.
const WRITE_HIGH: usize = 64 * 1024;

/// The connection's read side while a response is written: read only while nothing
/// is buffered (hyper's rule), to see the client close; bytes that come are kept in
/// `read` as the next head, and end the watch.
pub(crate) struct Watch<'a> {
    pub(crate) read: &'a mut BytesMut,
    pub(crate) on: bool,
}

impl Watch<'_> {
    /// `Ready(Err)` once the client has closed (or its socket failed).
    fn poll_gone<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.on || !self.read.is_empty() {
            return Poll::Pending;
        }
        match super::poll_fill(stream, self.read, cx) {
            Poll::Ready(Ok(0)) => Poll::Ready(Err(io::ErrorKind::ConnectionAborted.into())),
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Ready(Ok(_)) => {
                self.on = false;
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Writes `response` to `stream` through the buffer `out`, watching the client
/// (`watch`); whether the connection may carry another request after it (the head
/// said so and the body was whole).
pub(crate) async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    (out, watch): (&mut Vec<u8>, Watch<'_>),
    response: Response<ProxyBody>,
    asked: Asked,
) -> io::Result<bool> {
    let (parts, body) = response.into_parts();
    out.clear();
    let sized = (body.is_end_stream(), body.size_hint());
    let Ok(written) = response_head::encode(&parts, sized, asked, out) else {
        out.clear();
        return Ok(false); // hyper writes nothing for a length it cannot use.
    };
    // Written: its map can hold the next head parsed on this thread.
    spare_maps::give(parts.headers);
    let whole = match written.framing {
        // Never polled: hyper drops such a body unread too.
        Framing::Empty => {
            drop(body);
            true
        }
        framing => {
            let mut body = std::pin::pin!(body);
            send_body(stream, (out, watch), body.as_mut(), framing).await?
        }
    };
    flush(stream, out).await?;
    Ok(written.keep_alive && whole)
}

/// Writes the body in `framing` (not [`Framing::Empty`]); whether it was whole (a
/// body that failed or ended short of its length leaves the connection unusable).
async fn send_body<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    (out, mut watch): (&mut Vec<u8>, Watch<'_>),
    mut body: Pin<&mut ProxyBody>,
    framing: Framing,
) -> io::Result<bool> {
    let mut left = match framing {
        Framing::Length(n) => n,
        _ => u64::MAX,
    };
    loop {
        let polled = std::future::poll_fn(|cx| Poll::Ready(body.as_mut().poll_frame(cx))).await;
        let frame = match polled {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                // Nothing ready: what is written so far goes out while the body waits.
                flush(stream, out).await?;
                std::future::poll_fn(|cx| match body.as_mut().poll_frame(cx) {
                    Poll::Ready(frame) => Poll::Ready(Ok(frame)),
                    Poll::Pending => watch.poll_gone(stream, cx).map(|gone| gone.map(|()| None)),
                })
                .await?
            }
        };
        let data = match frame {
            None => break,
            Some(Err(_)) => return Ok(false),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // Trailers (module doc).
            },
        };
        if data.is_empty() {
            continue;
        }
        match framing {
            Framing::Length(_) => {
                // A body longer than its length is cut there, as hyper cuts it.
                let take = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                left -= take as u64;
                push(stream, out, data.slice(..take)).await?;
                if left == 0 {
                    return Ok(true);
                }
            }
            Framing::Chunked => {
                let size = format!("{:X}\r\n", data.len());
                out.extend_from_slice(size.as_bytes());
                push(stream, out, data).await?;
                out.extend_from_slice(b"\r\n");
            }
            Framing::Close | Framing::Empty => push(stream, out, data).await?,
        }
    }
    match framing {
        Framing::Chunked => out.extend_from_slice(b"0\r\n\r\n"),
        Framing::Length(_) => return Ok(false), // Ended short of its length.
        _ => {}
    }
    Ok(true)
}

/// Adds `data` to what goes out: copied into `out` when small, else written after it.
async fn push<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut Vec<u8>,
    data: Bytes,
) -> io::Result<()> {
    if data.len() <= COPY_LIMIT {
        out.extend_from_slice(&data);
        if out.len() >= WRITE_HIGH {
            flush(stream, out).await?;
        }
        return Ok(());
    }
    if !out.is_empty() {
        stream.write_all(out).await?;
        out.clear();
    }
    stream.write_all(&data).await
}

/// Writes out what `out` holds and flushes `stream` (a TLS stream holds records).
pub(crate) async fn flush<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    if !out.is_empty() {
        stream.write_all(out).await?;
        out.clear();
    }
    stream.flush().await
}
