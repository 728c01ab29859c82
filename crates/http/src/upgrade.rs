//! Which requests may switch protocols, and the fields that carry a switch across the
//! proxy (RFC 9110 §7.8).
//!
//! An HTTP/1.1 request asks for an upgrade when its `Connection` names `upgrade` and
//! its `Upgrade` lists protocols. sluicegate honours the ask (keeps both fields for the
//! backend and, after the backend's `101`, tunnels the connection) when the request has
//! no body and lists a protocol other than `h2c`:
//!
//! - `h2c` is never honoured (RFC 9113 §3.1 deprecates it, and a proxy that tunnels it
//!   hands the client an unchecked HTTP/2 connection to the backend): it is left out of
//!   `Upgrade`, `HTTP2-Settings` is always removed (a hop-by-hop field, see
//!   [`crate::headers`]), and a request that listed nothing else is a plain request.
//! - A request with a body is a plain request: the bytes after an upgrade request's
//!   head must be the new protocol's, and a body would stand between the two.
//! - HTTP/1.0 cannot upgrade (RFC 9110 §7.8: `Upgrade` is ignored in HTTP/1.0).
//!
//! The rule is read twice: on the raw head by the head guard ([`asks`], which decides:
//! only a request whose head the guard held can become a tunnel), and on hyper's
//! fields by the service ([`offered`], which only says which protocols go on). A `101`
//! is accepted only when every protocol it names was offered ([`accepts`]).

use http::HeaderMap;
use http::header::{self, HeaderValue};

/// The one protocol never honoured.
const H2C: &str = "h2c";

/// Whether a request head with these fields asks for an upgrade sluicegate honours:
/// HTTP/1.1 (`http11`), no body (`bodyless`), `Connection` naming `upgrade` and
/// `Upgrade` listing a protocol other than `h2c`. `fields` are (name, value) pairs.
pub(crate) fn asks<'a>(
    http11: bool,
    bodyless: bool,
    fields: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> bool {
    if !(http11 && bodyless) {
        return false;
    }
    let (mut connection, mut protocol) = (false, false);
    for (name, value) in fields {
        if name.eq_ignore_ascii_case("connection") {
            connection |= tokens(value).any(|t| t.eq_ignore_ascii_case(b"upgrade"));
        } else if name.eq_ignore_ascii_case("upgrade") {
            protocol |= tokens(value).any(is_honoured);
        }
    }
    connection && protocol
}

/// The protocols of a request that asks for an upgrade ([`asks`], read on hyper's
/// fields), `h2c` left out, as the `Upgrade` value the backend gets; `None` when the
/// request does not ask.
pub(crate) fn offered(headers: &HeaderMap) -> Option<HeaderValue> {
    let fields = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
    if !asks(true, true, fields) {
        return None;
    }
    let protocols: Vec<&[u8]> = headers
        .get_all(header::UPGRADE)
        .iter()
        .flat_map(|v| tokens(v.as_bytes()))
        .filter(|t| is_honoured(t))
        .collect();
    HeaderValue::from_bytes(&protocols.join(&b", "[..])).ok()
}

/// Whether a `101` with these `headers` switches to protocols that were `offered`:
/// it names at least one in `Upgrade`, and only offered ones.
pub(crate) fn accepts(offered: &HeaderValue, headers: &HeaderMap) -> bool {
    let chosen: Vec<&[u8]> = headers
        .get_all(header::UPGRADE)
        .iter()
        .flat_map(|v| tokens(v.as_bytes()))
        .collect();
    let is_offered = |c: &&[u8]| tokens(offered.as_bytes()).any(|o| o.eq_ignore_ascii_case(c));
    !chosen.is_empty() && chosen.iter().all(is_offered)
}

/// Puts the switch back into `headers` after the hop-by-hop fields were removed:
/// `Connection: upgrade` and `Upgrade: protocols`.
pub(crate) fn restore(headers: &mut HeaderMap, protocols: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocols);
}

/// Whether `protocol` (`name` or `name/version`) may be switched to.
fn is_honoured(protocol: &[u8]) -> bool {
    !protocol.eq_ignore_ascii_case(H2C.as_bytes())
}

/// The non-empty items of a comma-separated field value, trimmed.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn asked(fields: &[(&'static str, &'static str)]) -> bool {
        asks(true, true, fields.iter().map(|(n, v)| (*n, v.as_bytes())))
    }

    fn map(fields: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn an_upgrade_needs_both_fields_a_protocol_other_than_h2c_and_no_body() {
        let ws = [
            ("Connection", "keep-alive, Upgrade"),
            ("Upgrade", "websocket"),
        ];
        assert!(asked(&ws));
        assert!(!asked(&[("Upgrade", "websocket")]));
        assert!(!asked(&[("Connection", "upgrade")]));
        assert!(!asked(&[("Connection", "upgrade"), ("Upgrade", "H2C")]));
        assert!(asked(&[
            ("Connection", "upgrade"),
            ("Upgrade", "h2c, echo-test/1")
        ]));
        let fields = || ws.iter().map(|(n, v)| (*n, v.as_bytes()));
        assert!(!asks(false, true, fields()), "HTTP/1.0");
        assert!(!asks(true, false, fields()), "with a body");
    }

    #[test]
    fn h2c_is_left_out_of_the_offer() {
        let headers = map(&[("connection", "upgrade"), ("upgrade", "h2c,  a/1 ,b")]);
        assert_eq!(offered(&headers).unwrap(), "a/1, b");
        assert_eq!(
            offered(&map(&[("connection", "upgrade"), ("upgrade", "h2c")])),
            None
        );
    }

    #[test]
    fn a_101_must_name_offered_protocols_only() {
        let offer = HeaderValue::from_static("websocket, echo-test");
        assert!(accepts(&offer, &map(&[("upgrade", "WebSocket")])));
        assert!(!accepts(&offer, &map(&[("upgrade", "h2c")])));
        assert!(!accepts(&offer, &map(&[("upgrade", "websocket, h2c")])));
        assert!(!accepts(&offer, &HeaderMap::new()));
    }
}
