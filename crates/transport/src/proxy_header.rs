//! The PROXY protocol (HAProxy's `proxy-protocol.txt`), versions 1 (text) and 2
//! (binary): [`read_proxy_header`] reads one off the front of a stream, before
//! anything else is read from it, and [`proxy_header`] writes one for an upstream
//! connection. Parsing and building are the `ppp` crate's.
//!
//! The header is read, not peeked: tokio's `peek` stays readable after a peek that
//! found too few bytes, so re-peeking a header that arrives in pieces would spin.
//! What is read past the header (a sender may write its first payload bytes in the
//! same segment) is handed back, to be read again in front of the stream
//! ([`crate::Rewound`]).

use std::io;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use ppp::{HeaderResult, PartialResult, v1, v2};
use sluicegate_core::ProxyVersion;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest header read: a v1 header is at most 107 bytes, a v2 header 16 plus its
/// addresses (216 for UNIX sockets) and TLVs; 1,024 bytes hold every header load
/// balancers send (AWS NLB's and GCP's with their TLVs), and bound what a sender
/// can make us buffer.
pub const MAX_HEADER: usize = 1024;

/// Bytes asked for by the first read: a v1 header or a v2 one with few TLVs, plus
/// the start of what follows (HAProxy reads the header with one 536-byte peek).
const FIRST_READ: usize = 536;

/// Why no header could be read.
#[derive(Debug, thiserror::Error)]
pub enum ProxyHeaderError {
    /// The bytes are not a PROXY header, or a malformed one.
    #[error("malformed PROXY protocol header: {0}")]
    Invalid(String),
    /// The header is longer than [`MAX_HEADER`].
    #[error("PROXY protocol header longer than {MAX_HEADER} bytes")]
    TooLong,
    /// The connection closed before the header was whole.
    #[error("the connection closed before its PROXY protocol header was whole")]
    Closed,
    /// Reading failed.
    #[error("reading the PROXY protocol header: {0}")]
    Io(#[from] io::Error),
}

/// A header read: the client it names, and the bytes read past it.
#[derive(Debug)]
pub struct ProxyHeader {
    /// The client's address and the address it connected to, as the sender saw
    /// them; `None` for a `LOCAL` (v2) or `UNKNOWN` (v1) header, or an address family
    /// other than TCP over IPv4 or IPv6: the connection is the sender's own (a health
    /// check), and its peer stays the client.
    pub addresses: Option<(SocketAddr, SocketAddr)>,
    /// What was read past the header, to be read again first.
    pub rest: Bytes,
}

/// Reads one PROXY header (either version) from the front of `stream`.
pub async fn read_proxy_header<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<ProxyHeader, ProxyHeaderError> {
    let mut read = BytesMut::with_capacity(FIRST_READ);
    loop {
        if stream.read_buf(&mut read).await? == 0 {
            return Err(ProxyHeaderError::Closed);
        }
        let parsed = HeaderResult::parse(&read);
        if parsed.is_incomplete() {
            if read.len() >= MAX_HEADER {
                return Err(ProxyHeaderError::TooLong);
            }
            read.reserve(MAX_HEADER - read.len());
            continue;
        }
        let (addresses, length) = parsed_header(parsed)?;
        let rest = read.split_off(length).freeze();
        return Ok(ProxyHeader { addresses, rest });
    }
}

/// The addresses a complete parse names, and the header's length.
fn parsed_header(
    parsed: HeaderResult<'_>,
) -> Result<(Option<(SocketAddr, SocketAddr)>, usize), ProxyHeaderError> {
    let invalid = |e: &dyn std::fmt::Display| ProxyHeaderError::Invalid(e.to_string());
    match parsed {
        HeaderResult::V1(Ok(header)) => {
            let addresses = match header.addresses {
                v1::Addresses::Tcp4(a) => Some((
                    SocketAddr::from((a.source_address, a.source_port)),
                    SocketAddr::from((a.destination_address, a.destination_port)),
                )),
                v1::Addresses::Tcp6(a) => Some((
                    SocketAddr::from((a.source_address, a.source_port)),
                    SocketAddr::from((a.destination_address, a.destination_port)),
                )),
                v1::Addresses::Unknown => None,
            };
            Ok((addresses, header.header.len()))
        }
        HeaderResult::V2(Ok(header)) => {
            let addresses = match (header.command, header.addresses) {
                (v2::Command::Local, _) => None,
                (v2::Command::Proxy, v2::Addresses::IPv4(a)) => Some((
                    SocketAddr::from((a.source_address, a.source_port)),
                    SocketAddr::from((a.destination_address, a.destination_port)),
                )),
                (v2::Command::Proxy, v2::Addresses::IPv6(a)) => Some((
                    SocketAddr::from((a.source_address, a.source_port)),
                    SocketAddr::from((a.destination_address, a.destination_port)),
                )),
                (v2::Command::Proxy, _) => None,
            };
            Ok((addresses, header.len()))
        }
        HeaderResult::V1(Err(e)) => Err(invalid(&e)),
        HeaderResult::V2(Err(e)) => Err(invalid(&e)),
    }
}

/// The header of `version` naming a connection from `source` to `destination`.
/// Mixed families (an IPv4 client on an IPv6 listener) are written as IPv6, the
/// IPv4 side mapped (`::ffff:a.b.c.d`), as HAProxy does. Fails only where `ppp`'s
/// v2 builder would (a length past 65,535 bytes, which two addresses never reach).
pub fn proxy_header(
    version: ProxyVersion,
    source: SocketAddr,
    destination: SocketAddr,
) -> io::Result<Vec<u8>> {
    let (source, destination) = same_family(source, destination);
    match version {
        ProxyVersion::V1 => Ok(v1::Addresses::from((source, destination))
            .to_string()
            .into_bytes()),
        ProxyVersion::V2 => v2::Builder::with_addresses(
            v2::Version::Two | v2::Command::Proxy,
            v2::Protocol::Stream,
            (source, destination),
        )
        .build(),
    }
}

/// `source` and `destination` in one address family: each canonical (a mapped IPv4
/// address as IPv4), then both IPv6 when they still differ.
fn same_family(source: SocketAddr, destination: SocketAddr) -> (SocketAddr, SocketAddr) {
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let (s, d) = (canonical(source), canonical(destination));
    if s.is_ipv4() == d.is_ipv4() {
        return (s, d);
    }
    let v6 = |a: SocketAddr| match a {
        SocketAddr::V4(v4) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
        v6 => v6,
    };
    (v6(s), v6(d))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tokio::io::AsyncWriteExt;

    use super::*;

    async fn read_in(chunks: Vec<Vec<u8>>) -> Result<ProxyHeader, ProxyHeaderError> {
        let (mut near, mut far) = tokio::io::duplex(4096);
        let writer = tokio::spawn(async move {
            for chunk in chunks {
                near.write_all(&chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let read = read_proxy_header(&mut far).await;
        writer.await.unwrap();
        read
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn both_versions_and_families_read_back_what_was_written_with_the_rest() {
        let pairs = [
            (addr("203.0.113.7:51000"), addr("10.0.0.1:443")),
            (addr("[2001:db8::7]:51000"), addr("[2001:db8::1]:443")),
        ];
        for version in [ProxyVersion::V1, ProxyVersion::V2] {
            for (source, destination) in pairs {
                let mut bytes = proxy_header(version, source, destination).unwrap();
                bytes.extend_from_slice(b"GET / HTTP/1.1\r\n");
                let read = read_in(vec![bytes]).await.unwrap();
                assert_eq!(read.addresses, Some((source, destination)), "{version:?}");
                assert_eq!(&read.rest[..], b"GET / HTTP/1.1\r\n");
            }
        }
    }

    #[tokio::test]
    async fn a_header_split_over_reads_is_read_whole() {
        let source = addr("198.51.100.2:4000");
        for version in [ProxyVersion::V1, ProxyVersion::V2] {
            let bytes = proxy_header(version, source, addr("10.0.0.1:80")).unwrap();
            let chunks: Vec<Vec<u8>> = bytes.chunks(5).map(<[u8]>::to_vec).collect();
            let read = read_in(chunks).await.unwrap();
            assert_eq!(read.addresses.unwrap().0, source);
            assert!(read.rest.is_empty());
        }
    }

    #[tokio::test]
    async fn mixed_families_are_written_as_ipv6() {
        let bytes = proxy_header(ProxyVersion::V1, addr("127.0.0.1:5"), addr("[::1]:80")).unwrap();
        assert_eq!(bytes, b"PROXY TCP6 ::ffff:127.0.0.1 ::1 5 80\r\n");
    }

    #[tokio::test]
    async fn local_and_unknown_headers_name_no_client() {
        let read = read_in(vec![b"PROXY UNKNOWN\r\nrest".to_vec()])
            .await
            .unwrap();
        assert_eq!((read.addresses, &read.rest[..]), (None, &b"rest"[..]));
        let local = v2::Builder::new(
            v2::Version::Two | v2::Command::Local,
            v2::AddressFamily::Unspecified | v2::Protocol::Unspecified,
        )
        .build()
        .unwrap();
        assert_eq!(read_in(vec![local]).await.unwrap().addresses, None);
    }

    #[tokio::test]
    async fn garbage_a_closed_stream_and_an_endless_header_are_errors() {
        let garbage = read_in(vec![b"GET / HTTP/1.1\r\n\r\n".to_vec()]).await;
        assert!(
            matches!(garbage, Err(ProxyHeaderError::Invalid(_))),
            "{garbage:?}"
        );
        let closed = read_in(vec![b"PROXY TCP4 1.2".to_vec()]).await;
        assert!(
            matches!(closed, Err(ProxyHeaderError::Closed)),
            "{closed:?}"
        );
        let endless = read_in(vec![
            vec![b'P'],
            vec![b'R'],
            vec![b'O'],
            vec![b'X'],
            vec![b'Y'],
            vec![b' '; 2000],
        ])
        .await;
        assert!(
            matches!(
                endless,
                Err(ProxyHeaderError::Invalid(_) | ProxyHeaderError::TooLong)
            ),
            "{endless:?}"
        );
    }
}
