//! A client's request head, checked and parsed once from the front of the in-task
//! server's read buffer: the checks are the head guard's ([`crate::head_check`]),
//! the request is built as hyper's server builds it (method, target as a `Uri`,
//! version, fields in order, values sharing the buffer's bytes), and what the
//! connection needs of it is noted on the way: whether the client keeps it alive.
//!
//! Only a head the in-task server answers whole is taken off the buffer: one without
//! a body, that asks for no upgrade. Any other, and a refused one, is left where it
//! is for the guard and hyper ([`Parsed::Handoff`]), which answer it as they answer
//! every head.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Uri, Version};
use sluicegate_upstream::{FieldNames, spare_maps};

use super::MIN_READ;
use crate::head_check::{self, BodyFraming, Head, MAX_HEADERS};

/// What the front of the read buffer holds.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // Moved once a request: a box would be an allocation.
pub(crate) enum Parsed {
    /// Not a whole head yet.
    Partial,
    /// A head the in-task server answers, taken off the buffer.
    Request(RequestHead),
    /// A head with a body, asking for an upgrade, or refused: left in the buffer
    /// for hyper's path.
    Handoff,
}

/// A request head taken off the buffer.
#[derive(Debug)]
pub(crate) struct RequestHead {
    /// The request as hyper's server would have handed it on.
    pub(crate) parts: Parts,
    /// Whether the client keeps the connection after the response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub(crate) keep_alive: bool,
}

/// Where a head's parts lie in the buffer: the method, the target and each field's
/// name and value, as (start, end) offsets (`u32`: a head is at most 64 KiB); and the
/// client's field names as it spelt them last. One per connection, reused for each
/// head: made afresh, its hundred fields would be zeroed and copied for every request.
#[derive(Debug)]
pub(crate) struct Spans {
    method: [u32; 2],
    target: [u32; 2],
    version: Version,
    fields: Vec<[u32; 4]>,
    names: FieldNames,
}

impl Default for Spans {
    fn default() -> Self {
        Self {
            method: [0; 2],
            target: [0; 2],
            version: Version::HTTP_11,
            fields: Vec::new(),
            names: FieldNames::default(),
        }
    }
}

/// Parses the head at the front of `buf` (noting where its parts lie in `spans`); a
/// head the in-task server answers is taken off it.
pub(crate) fn parse(buf: &mut BytesMut, spans: &mut Spans) -> Parsed {
    let Some(len) = locate(buf, spans) else {
        return Parsed::Handoff;
    };
    if len == 0 {
        return Parsed::Partial;
    }
    // The request's values share the head's bytes until the request is done. Split
    // off the buffer, the head keeps the whole buffer alive meanwhile: that costs
    // nothing while the buffer has room left for the next read (the client watched
    // while the answer waits), but with less than that the read would take a second
    // buffer (2 KiB more a connection at `-c 1000`, dhat). Then the head (~100 bytes)
    // is copied out instead, and the buffer, its own again once the heads before are
    // done, is reused in place. Copying every head cost ~226 instructions a request.
    let split = buf.capacity() - len >= MIN_READ;
    let head = if split {
        buf.split_to(len).freeze()
    } else {
        match buf.get(..len) {
            Some(head) => Bytes::copy_from_slice(head),
            None => return Parsed::Handoff,
        }
    };
    match build(&head, spans) {
        Some(request) => {
            if !split {
                buf.advance(len);
            }
            Parsed::Request(request)
        }
        // Cannot happen to a head the checks passed; hyper's path would answer it,
        // from the buffer as it was.
        None => {
            if split {
                let mut back = BytesMut::from(&head[..]);
                back.extend_from_slice(buf);
                *buf = back;
            }
            Parsed::Handoff
        }
    }
}

/// The length of the checked head at the front of `buf` (0: partial), noting in
/// `spans` where its parts lie; `None` for a head the in-task server does not answer.
fn locate(buf: &[u8], spans: &mut Spans) -> Option<usize> {
    // Uninitialised: zeroing a hundred fields would cost more than parsing them.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let len = match head_check::checked(buf, &mut request, &mut fields) {
        Ok(Head::Partial) => 0,
        Ok(Head::Complete {
            len,
            body: BodyFraming::Length(0),
            upgrade: false,
        }) => len,
        Ok(Head::Complete { .. }) | Err(_) => return None,
    };
    let base = buf.as_ptr() as usize;
    let span = |part: &[u8]| {
        let start = part.as_ptr() as usize - base;
        [start, start + part.len()].map(|at| u32::try_from(at).unwrap_or(u32::MAX))
    };
    if len == 0 {
        return Some(0);
    }
    let (method, target) = (request.method?, request.path?);
    spans.method = span(method.as_bytes());
    spans.target = span(target.as_bytes());
    spans.version = match request.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    spans.fields.clear();
    spans.fields.extend(request.headers.iter().map(|field| {
        let [n0, n1] = span(field.name.as_bytes());
        let [v0, v1] = span(field.value);
        [n0, n1, v0, v1]
    }));
    Some(len)
}

/// The request whose head is `head`, its parts at `spans`.
fn build(head: &Bytes, spans: &mut Spans) -> Option<RequestHead> {
    let slice = |[start, end]: [u32; 2]| head.get(start as usize..end as usize);
    let method = Method::from_bytes(slice(spans.method)?).ok()?;
    let target = slice(spans.target)?;
    let uri = if target == b"/" {
        Uri::from_static("/")
    } else {
        let [start, end] = spans.target;
        Uri::from_maybe_shared(head.slice(start as usize..end as usize)).ok()?
    };
    let mut parts = Request::new(()).into_parts().0;
    parts.headers = spare_maps::take(spans.fields.len());
    let headers = &mut parts.headers;
    let mut connection = Connection::default();
    for (i, &[n0, n1, v0, v1]) in spans.fields.iter().enumerate() {
        let name = spans.names.name(i, slice([n0, n1])?).ok()?;
        let value = slice([v0, v1])?;
        if name == http::header::CONNECTION {
            connection.note(value);
        }
        let value = HeaderValue::from_maybe_shared(head.slice(v0 as usize..v1 as usize)).ok()?;
        headers.append(name, value);
    }
    let keep_alive = match spans.version {
        // `close` wins, as in hyper.
        Version::HTTP_10 => connection.keep_alive && !connection.close,
        _ => !connection.close,
    };
    parts.method = method;
    parts.uri = uri;
    parts.version = spans.version;
    Some(RequestHead { parts, keep_alive })
}

/// The `Connection` tokens that decide whether the connection persists.
#[derive(Debug, Default)]
struct Connection {
    close: bool,
    keep_alive: bool,
}

impl Connection {
    fn note(&mut self, value: &[u8]) {
        for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            self.close |= token.eq_ignore_ascii_case(b"close");
            self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parsed(bytes: &[u8]) -> (Parsed, BytesMut) {
        let mut buf = BytesMut::from(bytes);
        (parse(&mut buf, &mut Spans::default()), buf)
    }

    fn request(bytes: &[u8]) -> (RequestHead, BytesMut) {
        match parsed(bytes) {
            (Parsed::Request(head), rest) => (head, rest),
            (other, _) => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_head_is_built_as_hyper_builds_it_and_taken_off_the_buffer() {
        let (head, rest) =
            request(b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nx-a: 2\r\n\r\nGET /next");
        assert_eq!(head.parts.method, Method::GET);
        assert_eq!(head.parts.uri, "/a?b=1");
        assert_eq!(head.parts.version, Version::HTTP_11);
        assert_eq!(head.parts.headers["host"], "x");
        let a: Vec<_> = head.parts.headers.get_all("x-a").iter().collect();
        assert_eq!(a, ["1", "2"]);
        assert!(head.keep_alive);
        assert_eq!(&rest[..], b"GET /next");
        let (head, _) = request(b"OPTIONS * HTTP/1.1\r\n\r\n");
        assert_eq!(head.parts.uri, "*");
        let (head, _) = request(b"GET http://h.example/x HTTP/1.1\r\n\r\n");
        assert_eq!(head.parts.uri.host(), Some("h.example"));
    }

    #[test]
    fn a_head_is_split_off_a_roomy_buffer_and_copied_out_of_a_full_one() {
        let bytes = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b";
        // Room for the next read after the head: split off, sharing the buffer.
        let mut roomy = BytesMut::with_capacity(bytes.len() + MIN_READ);
        roomy.extend_from_slice(bytes);
        let Parsed::Request(head) = parse(&mut roomy, &mut Spans::default()) else {
            panic!("not parsed");
        };
        assert_eq!(head.parts.headers["host"], "x");
        assert_eq!(&roomy[..], b"GET /b");
        assert!(roomy.capacity() >= MIN_READ);
        // No room left: copied out, and the buffer is taken past it all the same.
        let mut full = BytesMut::from(&bytes[..]);
        let Parsed::Request(head) = parse(&mut full, &mut Spans::default()) else {
            panic!("not parsed");
        };
        assert_eq!(head.parts.uri, "/a");
        assert_eq!(head.parts.headers["host"], "x");
        assert_eq!(&full[..], b"GET /b");
        drop(head);
        // Its own again: room is made in place, not in a new buffer.
        let before = full.as_ptr() as usize;
        let start = before - (bytes.len() - b"GET /b".len());
        full.reserve(16);
        assert_eq!(full.as_ptr() as usize, start);
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        let keep = |bytes: &[u8]| request(bytes).0.keep_alive;
        assert!(!keep(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
        assert!(!keep(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(keep(b"GET / HTTP/1.0\r\nConnection: x, keep-alive\r\n\r\n"));
        assert!(keep(b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"));
        assert!(!keep(
            b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n"
        ));
        assert!(!keep(
            b"GET / HTTP/1.0\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n"
        ));
    }

    #[test]
    fn bodies_upgrades_and_refusals_are_left_for_hyper() {
        let left = [
            &b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            b"GET /#f HTTP/1.1\r\n\r\n",
            b"GET / HTTP/2.0\r\n\r\n",
        ];
        for bytes in left {
            let (parsed, rest) = parsed(bytes);
            assert!(matches!(parsed, Parsed::Handoff), "{bytes:?}");
            assert_eq!(&rest[..], bytes);
        }
        let (parsed, rest) = parsed(b"GET / HTTP/1.1\r\nHost:");
        assert!(matches!(parsed, Parsed::Partial));
        assert_eq!(&rest[..], b"GET / HTTP/1.1\r\nHost:");
        let (head, _) = request(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(head.parts.method, Method::POST);
    }
}

#[cfg(test)]
#[path = "request_head_properties.rs"]
mod properties;
