//! Who sent a request and which request it is: the client address behind trusted
//! proxies, and the request id.
//!
//! From a peer outside the listener's `trusted_proxies` (by default every peer), the
//! client is the peer and its `X-Request-Id` is replaced. From a trusted peer, the
//! client is the right-most address of `X-Forwarded-For` that is not itself trusted
//! (nginx `real_ip_recursive on`, Envoy `xff_num_trusted_hops`), and a well-formed
//! `X-Request-Id` is kept.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use sluicegate_runtime::TrustedProxies;

/// `X-Forwarded-For`.
pub(crate) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Request-Id`.
pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id kept from a trusted peer; a longer one is replaced (Envoy and
/// Heroku cap theirs near this: a UUID is 36 characters).
const MAX_REQUEST_ID: usize = 200;

/// A client connection's peer: its address, and that address as a header value,
/// made once per connection (every request on it sends it in `X-Forwarded-For`).
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// The address (an IPv4-mapped IPv6 address as IPv4).
    pub(crate) ip: IpAddr,
    /// The address as text.
    pub(crate) value: HeaderValue,
}

impl Peer {
    /// The peer at `addr`.
    pub(crate) fn new(addr: SocketAddr) -> Self {
        let ip = addr.ip().to_canonical();
        let value = crate::addr_text::ip_value(ip);
        Self { ip, value }
    }
}

/// The identity of one request.
#[derive(Clone, Debug)]
pub(crate) struct Identity {
    /// The TCP peer.
    pub(crate) peer: Peer,
    /// Whether the peer is a trusted proxy.
    pub(crate) trusted: bool,
    /// The client: the peer, or behind trusted proxies the first untrusted hop.
    pub(crate) client: IpAddr,
    /// The request id sent upstream, returned and logged.
    pub(crate) request_id: HeaderValue,
}

impl Identity {
    /// The identity of a request with `headers` from `peer`.
    pub(crate) fn of(headers: &HeaderMap, peer: &Peer, trusted: &TrustedProxies) -> Self {
        let is_trusted = !trusted.is_empty() && trusted.contains(peer.ip);
        // Looked up only from a trusted peer: any other's is replaced unread.
        let kept = is_trusted
            .then(|| headers.get(&X_REQUEST_ID))
            .flatten()
            .filter(|id| well_formed(id))
            .cloned();
        Identity {
            peer: peer.clone(),
            trusted: is_trusted,
            client: if is_trusted {
                chain_client(headers, peer.ip, trusted)
            } else {
                peer.ip
            },
            request_id: kept.unwrap_or_else(new_request_id),
        }
    }
}

/// Walks `X-Forwarded-For` from the right, past trusted hops, to the first untrusted
/// address. An entry that is not an address ends the walk at the hop that reported
/// it; a chain of trusted hops only yields its left-most address.
fn chain_client(headers: &HeaderMap, peer: IpAddr, trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer;
    for value in headers.get_all(&X_FORWARDED_FOR).iter().rev() {
        let Ok(text) = value.to_str() else {
            return client;
        };
        for entry in text.rsplit(',') {
            let Some(ip) = address(entry.trim()) else {
                return client;
            };
            client = ip;
            if !trusted.contains(ip) {
                return client;
            }
        }
    }
    client
}

/// One `X-Forwarded-For` entry: `203.0.113.9`, `203.0.113.9:5123`, `2001:db8::1`
/// or `[2001:db8::1]:5123`.
fn address(entry: &str) -> Option<IpAddr> {
    let ip = entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// A request id worth keeping: short, visible ASCII, no spaces (it goes into logs).
fn well_formed(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty() && bytes.len() <= MAX_REQUEST_ID && bytes.iter().all(u8::is_ascii_graphic)
}

/// Two lower-case hex digits for each byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut pairs = [[0; 2]; 256];
    let mut byte = 0;
    while byte < 256 {
        pairs[byte] = [HEX[byte >> 4], HEX[byte & 0xF]];
        byte += 1;
    }
    pairs
};

/// Where the digits of each byte of a UUID go in its text (8-4-4-4-12 hex digits).
const UUID_DIGITS_AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/// A random (version 4) UUID, as Envoy generates: unique enough to find one request
/// in every log it passed through. Not a secret, so a fast generator will do.
fn new_request_id() -> HeaderValue {
    let bits = u128::from(fastrand::u64(..)) << 64 | u128::from(fastrand::u64(..));
    let bits = bits & !(0xF000 << 64) | (0x4000 << 64); // version 4
    let bits = bits & !(0xC000 << 48) | (0x8000 << 48); // RFC 4122 variant
    // Written in place, then owned by one shared allocation: the value goes on the
    // request and on the response, and a clone of a `Bytes::from_owner` only counts a
    // reference (a value copied from a slice would allocate again when first cloned).
    // Two digits a byte from a table, at places fixed beforehand: a u128 shift per
    // digit cost ~700 instructions a request, a digit pair per byte with the dashes
    // found on the way ~250, this ~60.
    let mut text = [b'-'; 36];
    for (byte, at) in bits.to_be_bytes().into_iter().zip(UUID_DIGITS_AT) {
        if let Some(digits) = text.get_mut(at..at + 2) {
            digits.copy_from_slice(&HEX_PAIRS[usize::from(byte)]);
        }
    }
    HeaderValue::from_maybe_shared(Bytes::from_owner(text)).unwrap_or(HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        h
    }

    fn client(xff: &[&str], peer: &str, nets: &[&str]) -> String {
        let pairs: Vec<(&str, &str)> = xff.iter().map(|v| ("x-forwarded-for", *v)).collect();
        let peer = Peer::new(SocketAddr::new(peer.parse().unwrap(), 1000));
        Identity::of(&headers(&pairs), &peer, &trusted(nets))
            .client
            .to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        assert_eq!(
            client(&["203.0.113.9"], "198.51.100.1", &[]),
            "198.51.100.1"
        );
        assert_eq!(
            client(&["203.0.113.9"], "198.51.100.1", &["10.0.0.0/8"]),
            "198.51.100.1"
        );
    }

    #[test]
    fn behind_trusted_hops_the_right_most_untrusted_address_is_the_client() {
        let nets = ["10.0.0.0/8"];
        // The client forged the first entry; 192.0.2.7 is what the first trusted hop saw.
        let chain = ["6.6.6.6, 192.0.2.7", "10.0.0.2"];
        assert_eq!(client(&chain, "10.0.0.1", &nets), "192.0.2.7");
        assert_eq!(client(&["192.0.2.7:5123"], "10.0.0.1", &nets), "192.0.2.7");
        assert_eq!(
            client(&["[2001:db8::1]:80"], "10.0.0.1", &nets),
            "2001:db8::1"
        );
        // Only trusted hops: the left-most one.
        assert_eq!(
            client(&["10.0.0.3, 10.0.0.2"], "10.0.0.1", &nets),
            "10.0.0.3"
        );
        // Junk ends the walk at the hop that passed it on.
        assert_eq!(
            client(&["192.0.2.7, junk, 10.0.0.2"], "10.0.0.1", &nets),
            "10.0.0.2"
        );
        // No header: the trusted peer itself.
        assert_eq!(client(&[], "10.0.0.1", &nets), "10.0.0.1");
        // A mapped peer matches its IPv4 network.
        assert_eq!(
            client(&["192.0.2.7"], "::ffff:10.0.0.1", &nets),
            "192.0.2.7"
        );
    }

    #[test]
    fn request_ids_are_kept_only_from_trusted_peers_and_only_when_well_formed() {
        let peer = Peer::new("10.0.0.1:1".parse().unwrap());
        let given = headers(&[("x-request-id", "abc-123")]);
        let id = |h: &HeaderMap, nets: &[&str]| Identity::of(h, &peer, &trusted(nets)).request_id;
        assert_eq!(id(&given, &["10.0.0.0/8"]), "abc-123");
        assert_ne!(id(&given, &[]), "abc-123");
        let long = "x".repeat(MAX_REQUEST_ID + 1);
        assert_ne!(
            id(&headers(&[("x-request-id", &long)]), &["10.0.0.0/8"]),
            long.as_str()
        );
        assert_ne!(
            id(&headers(&[("x-request-id", "a b")]), &["10.0.0.0/8"]),
            "a b"
        );
    }

    #[test]
    fn new_request_ids_are_distinct_version_4_uuids() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        let text = a.to_str().unwrap();
        assert_eq!(text.len(), 36);
        assert_eq!(&text[14..15], "4");
        assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"));
        let dashes: Vec<usize> = text.match_indices('-').map(|(i, _)| i).collect();
        assert_eq!(dashes, [8, 13, 18, 23]);
        assert!(text.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
    }

    #[test]
    fn a_request_id_is_its_bits_in_uuid_form() {
        fastrand::seed(7);
        let id = new_request_id();
        fastrand::seed(7);
        let bits = u128::from(fastrand::u64(..)) << 64 | u128::from(fastrand::u64(..));
        let bits = bits & !(0xF000 << 64) | (0x4000 << 64);
        let bits = bits & !(0xC000 << 48) | (0x8000 << 48);
        let hex = format!("{bits:032x}");
        let want = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        assert_eq!(id.to_str().unwrap(), want);
    }
}
