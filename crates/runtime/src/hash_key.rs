//! What a hashing cluster hashes, in the form the listener reads from a request.

use std::net::IpAddr;

use http::HeaderName;

pub use sluicegate_balance::stable_hash;

/// The request property a hashing policy (`ip_hash`, `ring_hash`, `maglev`) hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashKey {
    /// The client's IP address.
    SourceIp,
    /// The request path, without the query.
    Path,
    /// The value of this header.
    Header(HeaderName),
    /// The value of this cookie.
    Cookie(String),
    /// The value of this query parameter.
    Query(String),
}

/// The placement hash of a client address: its 4 (IPv4, also when IPv4-mapped in
/// IPv6) or 16 bytes, so every replica places one client alike.
pub fn hash_ip(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => stable_hash(&v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => stable_hash(&v4.octets()),
            None => stable_hash(&v6.octets()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_ipv4_hashes_like_ipv4() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0; 16]));
        assert_eq!(hash_ip(v4), hash_ip(mapped));
        let other: IpAddr = "2001:db8::7".parse().unwrap_or(IpAddr::from([0; 16]));
        assert_ne!(hash_ip(v4), hash_ip(other));
    }
}
