//! The request head the in-task client writes: `METHOD target HTTP/1.1`, then the
//! fields as they are (already rewritten for the backend by the layer above:
//! origin-form target, hop-by-hop fields gone, `Host` kept), then the empty line.
//! The fields the proxy added follow, from [`Outgoing::added`](crate::Outgoing). Names go out
//! in lower case, as hyper's client writes them.

use crate::outgoing::Outgoing;

/// Appends the head of `outgoing` to `out`.
pub(crate) fn encode<B>(outgoing: &Outgoing<B>, out: &mut Vec<u8>) {
    let request = &outgoing.request;
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let target = if target.is_empty() { "/" } else { target };
    out.extend_from_slice(request.method().as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let fields = request.headers().iter().chain(outgoing.added.iter());
    for (name, value) in fields {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::added_fields::AddedFields;
    use http::{HeaderName, HeaderValue, Request};

    fn encode(request: &Request<()>, out: &mut Vec<u8>) {
        let outgoing = Outgoing::plain(request.clone());
        super::encode(&outgoing, out);
    }

    #[test]
    fn a_head_is_written_as_hyper_writes_it() {
        let request = Request::get("/a/b?c=1")
            .header("Host", "example.com")
            .header("X-Forwarded-For", "10.0.0.1")
            .header("x-forwarded-for", "10.0.0.2")
            .body(())
            .unwrap();
        let mut out = Vec::new();
        encode(&request, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /a/b?c=1 HTTP/1.1\r\nhost: example.com\r\nx-forwarded-for: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2\r\n\r\n"
        );
    }

    #[test]
    fn the_added_fields_follow_the_maps_own() {
        let request = Request::get("/").header("Via", "1.0 a").body(()).unwrap();
        let mut added = AddedFields::with_capacity(2);
        added.push(
            HeaderName::from_static("via"),
            HeaderValue::from_static("1.1 b"),
        );
        added.push(
            HeaderName::from_static("x-real-ip"),
            HeaderValue::from_static("10.0.0.1"),
        );
        let mut out = Vec::new();
        super::encode(&Outgoing::new(request, added), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET / HTTP/1.1\r\nvia: 1.0 a\r\nvia: 1.1 b\r\nx-real-ip: 10.0.0.1\r\n\r\n"
        );
    }

    #[test]
    fn an_options_star_and_an_absolute_uri_keep_their_target() {
        let mut out = Vec::new();
        encode(&Request::options("*").body(()).unwrap(), &mut out);
        assert!(out.starts_with(b"OPTIONS * HTTP/1.1\r\n"));
        out.clear();
        encode(
            &Request::get("http://h.example/x?y").body(()).unwrap(),
            &mut out,
        );
        assert!(out.starts_with(b"GET /x?y HTTP/1.1\r\n"));
    }
}
