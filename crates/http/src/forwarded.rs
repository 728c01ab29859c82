//! The fields that say who the client is and which request this is:
//! `X-Forwarded-For`, `-Proto`, `-Host`, `X-Real-IP`, `X-Request-Id`, and this
//! process's `Via` entry, set on the head sent to a backend.
//!
//! They go into the request's [`AddedFields`] (written after the head's own fields
//! by the upstream client), not into its header map: one pass over the client's
//! field names finds the claims to drop, and nothing is hashed or inserted on the
//! common path (`sluicegate_upstream::AddedFields` says what that saved).

use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};
use sluicegate_upstream::{AddedFields, short_head};

use crate::addr_text::ip_value;
use crate::headers::append_to_list;
use crate::identity::{Identity, X_FORWARDED_FOR, X_REQUEST_ID};
use crate::via::own_via;

static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Fields added to every forwarded request head.
const FIELDS_ADDED: usize = 6;

/// The client's fields this module sets or drops, as bits of [`claims`].
const XFF: u8 = 1;
const XFP: u8 = 1 << 1;
const XFH: u8 = 1 << 2;
const REAL_IP: u8 = 1 << 3;
const REQUEST_ID: u8 = 1 << 4;
const FORWARDED: u8 = 1 << 5;
const VIA: u8 = 1 << 6;

/// The fields that say who the client is and which request this is, for the head in
/// `headers`, with this process's `Via` entry.
///
/// From an untrusted peer, whatever it sent in `X-Forwarded-For`, `X-Forwarded-Proto`,
/// `X-Forwarded-Host` and `X-Real-IP` is replaced: `X-Forwarded-For` becomes the peer,
/// `X-Forwarded-Host` the request's `Host`. From a trusted peer, `X-Forwarded-For` is
/// appended to and the other two are kept when present. `Forwarded` (RFC 7239), which
/// makes the same claims, is kept from a trusted peer and dropped from any other (as
/// Envoy's edge setup drops what it cannot vouch for). `X-Real-IP` is always the
/// client of [`Identity`], and `X-Request-Id` its request id. A `Via` already there
/// gets the entry appended in place; otherwise it is added.
pub(crate) fn forwarded_fields(
    headers: &mut HeaderMap,
    identity: &Identity,
    proto: &str,
) -> AddedFields {
    let mut added = AddedFields::with_capacity(FIELDS_ADDED);
    let present = claims(headers);
    let trusted = identity.trusted;
    let peer = &identity.peer;
    if trusted && present & XFF != 0 {
        // The chain joined into one field, with the peer last.
        append_to_list(
            headers,
            &X_FORWARDED_FOR,
            peer.value.to_str().unwrap_or("-"),
        );
    } else {
        drop_present(headers, present, XFF | if trusted { 0 } else { FORWARDED });
        added.push(X_FORWARDED_FOR.clone(), peer.value.clone());
    }
    if !(trusted && present & XFP != 0) {
        drop_present(headers, present, XFP);
        // The two values there are: no allocation per request.
        let proto = match proto {
            "https" => HeaderValue::from_static("https"),
            _ => HeaderValue::from_static("http"),
        };
        added.push(X_FORWARDED_PROTO.clone(), proto);
    }
    if !(trusted && present & XFH != 0) {
        drop_present(headers, present, XFH);
        if let Some(host) = short_head::get(headers, &header::HOST) {
            added.push(X_FORWARDED_HOST.clone(), host.clone());
        }
    }
    drop_present(headers, present, REAL_IP | REQUEST_ID);
    let real_ip = if identity.client == peer.ip {
        peer.value.clone()
    } else {
        ip_value(identity.client)
    };
    added.push(X_REAL_IP.clone(), real_ip);
    added.push(X_REQUEST_ID.clone(), identity.request_id.clone());
    match own_via() {
        Some((_, entry)) if present & VIA != 0 => append_to_list(headers, &header::VIA, entry),
        Some((value, _)) => added.push(header::VIA, value.clone()),
        None => {}
    }
    added
}

/// Which of the fields set or dropped here the head has: one pass over its names
/// (most heads have none of them).
fn claims(headers: &HeaderMap) -> u8 {
    headers.keys().fold(0, |present, name| {
        present
            | if name == X_FORWARDED_FOR {
                XFF
            } else if name == X_FORWARDED_PROTO {
                XFP
            } else if name == X_FORWARDED_HOST {
                XFH
            } else if name == X_REAL_IP {
                REAL_IP
            } else if name == X_REQUEST_ID {
                REQUEST_ID
            } else if name == header::FORWARDED {
                FORWARDED
            } else if name == header::VIA {
                VIA
            } else {
                0
            }
    })
}

/// Removes the fields of `which` that `present` says the head has.
fn drop_present(headers: &mut HeaderMap, present: u8, which: u8) {
    let names = [
        (XFF, &X_FORWARDED_FOR),
        (XFP, &X_FORWARDED_PROTO),
        (XFH, &X_FORWARDED_HOST),
        (REAL_IP, &X_REAL_IP),
        (REQUEST_ID, &X_REQUEST_ID),
        (FORWARDED, &header::FORWARDED),
    ];
    for (bit, name) in names {
        if present & which & bit != 0 {
            headers.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::identity::Peer;

    fn identity(peer: &str, trusted: bool, client: &str) -> Identity {
        Identity {
            peer: Peer::new(std::net::SocketAddr::new(peer.parse().unwrap(), 1)),
            trusted,
            client: client.parse().unwrap(),
            request_id: HeaderValue::from_static("id-1"),
        }
    }

    fn claimed() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_static("1.1.1.1"));
        h.append("x-forwarded-for", HeaderValue::from_static("2.2.2.2"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert("x-forwarded-host", HeaderValue::from_static("evil.example"));
        h.insert("x-real-ip", HeaderValue::from_static("3.3.3.3"));
        h.insert("x-request-id", HeaderValue::from_static("forged"));
        h.insert("forwarded", HeaderValue::from_static("for=9.9.9.9"));
        h.insert("host", HeaderValue::from_static("example.com"));
        h
    }

    /// The head as the backend gets it: the map's fields, then the added ones.
    fn sent(mut h: HeaderMap, identity: &Identity) -> HeaderMap {
        forwarded_fields(&mut h, identity, "http").append_to(&mut h);
        h
    }

    #[test]
    fn an_untrusted_peer_has_its_claims_replaced() {
        let h = sent(claimed(), &identity("127.0.0.1", false, "127.0.0.1"));
        assert_eq!(h["x-forwarded-for"], "127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example.com");
        assert_eq!(h["x-real-ip"], "127.0.0.1");
        assert_eq!(h["x-request-id"], "id-1");
        assert_eq!(h.get_all("x-forwarded-for").iter().count(), 1);
        assert!(!h.contains_key("forwarded"));
        assert_eq!(h.get_all(header::VIA).iter().count(), 1);
        let mut without_host = claimed();
        without_host.remove("host");
        let h = sent(without_host, &identity("127.0.0.1", false, "127.0.0.1"));
        assert!(!h.contains_key("x-forwarded-host"));
    }

    #[test]
    fn a_trusted_peer_has_its_chain_extended_and_its_fields_kept() {
        let h = sent(claimed(), &identity("10.0.0.1", true, "2.2.2.2"));
        assert_eq!(h["x-forwarded-for"], "1.1.1.1, 2.2.2.2, 10.0.0.1");
        assert_eq!(h.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(h["x-forwarded-host"], "evil.example");
        assert_eq!(h["x-real-ip"], "2.2.2.2");
        assert_eq!(h["x-request-id"], "id-1");
        assert_eq!(h["forwarded"], "for=9.9.9.9");
    }

    #[test]
    fn a_via_already_there_gets_the_entry_appended_once() {
        let mut h = HeaderMap::new();
        h.insert(header::VIA, HeaderValue::from_static("1.1 edge"));
        let h = sent(h, &identity("127.0.0.1", false, "127.0.0.1"));
        let via: Vec<_> = h.get_all(header::VIA).iter().collect();
        assert_eq!(via.len(), 1);
        let via = via[0].to_str().unwrap();
        assert!(via.starts_with("1.1 edge, 1.1 sluicegate-"), "{via}");
    }
}
