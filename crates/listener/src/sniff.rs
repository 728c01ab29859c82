//! Telling HTTP/2 with prior knowledge (RFC 9113 §3.3) from HTTP/1 on a connection
//! that did not say by ALPN: read until the bytes either are the client connection
//! preface or cannot become it, then hand the connection on with those bytes put back
//! in front ([`Rewound`]).
//!
//! Written here rather than taken from hyper-util's auto builder, which does the same:
//! the auto builder would serve HTTP/1 without the head guard in front of hyper, and
//! the guard must see every HTTP/1 byte. An HTTP/1 request costs no extra read: its
//! first read mismatches at byte 0 and is what the guard reads first.

use std::io;

use bytes::BytesMut;
use sluicegate_transport::Rewound;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The HTTP/2 client connection preface.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The first read's buffer: one typical request head (the guard reads on from the
/// socket after it).
const FIRST_READ: usize = 4096;

/// Reads from `stream` until its first bytes tell: `Ok((stream, true))` for the
/// HTTP/2 preface, `Ok((stream, false))` for anything else (including a client that
/// closes before sending anything). The bytes read are read again from the returned
/// stream.
pub(crate) async fn sniff_h2<S>(mut stream: S) -> io::Result<(Rewound<S>, bool)>
where
    S: AsyncRead + Unpin,
{
    let mut read = BytesMut::with_capacity(FIRST_READ);
    let h2 = loop {
        if stream.read_buf(&mut read).await? == 0 {
            break false;
        }
        let seen = read.len().min(PREFACE.len());
        if read[..seen] != PREFACE[..seen] {
            break false;
        }
        if seen == PREFACE.len() {
            break true;
        }
    };
    Ok((Rewound::new(read.freeze(), stream), h2))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn sniffed(chunks: &[&[u8]]) -> (bool, Vec<u8>) {
        let (mut client, server) = tokio::io::duplex(64);
        let chunks: Vec<Vec<u8>> = chunks.iter().map(|c| c.to_vec()).collect();
        let writer = tokio::spawn(async move {
            for chunk in chunks {
                client.write_all(&chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let (mut stream, h2) = sniff_h2(server).await.unwrap();
        writer.await.unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).await.unwrap();
        (h2, all)
    }

    #[tokio::test]
    async fn the_preface_split_anywhere_is_h2_and_is_read_again() {
        for at in 1..PREFACE.len() {
            let (h2, all) = sniffed(&[&PREFACE[..at], &PREFACE[at..], b"frames"]).await;
            assert!(h2, "split at {at}");
            assert_eq!(all, [PREFACE, b"frames"].concat());
        }
    }

    #[tokio::test]
    async fn http1_and_near_misses_are_not_h2_and_lose_no_byte() {
        let (h2, all) = sniffed(&[b"GET / HTTP/1.1\r\n", b"Host: a\r\n\r\n"]).await;
        assert!(!h2);
        assert_eq!(all, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        let (h2, all) = sniffed(&[b"PRI * HTTP/1.1\r\n\r\n"]).await;
        assert!(!h2);
        assert_eq!(all, b"PRI * HTTP/1.1\r\n\r\n");
        let (h2, all) = sniffed(&[]).await;
        assert!(!h2);
        assert!(all.is_empty());
    }
}
