//! The view of a backend pool that balancing policies read.

use std::net::IpAddr;

/// A read-only view over the backends of one cluster, indexed `0..len()`.
///
/// The runtime implements it over its backends; tests implement it over a `Vec`.
/// Every method must be cheap (an atomic load at most): policies call them on the hot path.
pub trait EndpointSet {
    /// Number of backends, eligible or not.
    fn len(&self) -> usize;

    /// True when the set has no backend at all.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Configured weight of backend `i` (1 to 10000).
    fn weight(&self, i: usize) -> u32;

    /// Whether backend `i` may receive new requests (healthy and enabled).
    fn is_eligible(&self, i: usize) -> bool;

    /// Requests (L7) or connections (L4) currently in flight on backend `i`.
    fn in_flight(&self, i: usize) -> u64;

    /// Slow-start ramp of backend `i` in per-mille of its weight: [`FULL_RAMP`] once it
    /// has fully joined, down to 100 (10%) right after it joined. Policies scale the
    /// backend's share by it.
    fn ramp(&self, _i: usize) -> u32 {
        FULL_RAMP
    }

    /// Sum of `in_flight` over every backend. Implementations that keep a running
    /// total should override this O(n) default: bounded-load hashing reads it per pick.
    fn total_in_flight(&self) -> u64 {
        (0..self.len()).map(|i| self.in_flight(i)).sum()
    }

    /// Sum of the weights of the eligible backends. Implementations that cache it
    /// should override this O(n) default: bounded-load hashing reads it per pick.
    fn eligible_weight(&self) -> u64 {
        (0..self.len())
            .filter(|&i| self.is_eligible(i))
            .map(|i| u64::from(self.weight(i)))
            .sum()
    }
}

/// [`EndpointSet::ramp`] of a backend that is not ramping: 1000 per-mille.
pub const FULL_RAMP: u32 = 1000;

/// What a policy may look at to choose a backend for one request or connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PickKey {
    /// The client's address, when known.
    pub client_ip: Option<IpAddr>,
    /// A precomputed affinity hash (header, cookie, path, query or source IP), if any.
    pub affinity: Option<u64>,
}

impl PickKey {
    /// A key with only the client address.
    pub fn from_client(ip: IpAddr) -> Self {
        Self {
            client_ip: Some(ip),
            affinity: None,
        }
    }
}
