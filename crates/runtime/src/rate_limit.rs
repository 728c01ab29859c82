//! A route's rate limit: token buckets (governor's GCRA) per key, in a table of a
//! fixed number of cells, so memory does not grow with the number of keys (a flood
//! of distinct keys, such as spoofed headers or a million clients, cannot exhaust
//! it: the table is [`CELLS`] × 8 bytes, whatever comes).
//!
//! A key picks its cell by a hash with a per-process random seed (keys an attacker
//! chooses cannot be aimed at a victim's cell). Keys that share a cell share its
//! bucket: with far more keys active at once than cells, limiting gets stricter for
//! the keys that collide, never looser, the trade pingora-limits' count-min sketch
//! makes too. A reload keeps a route's buckets when its listener, position and limit
//! are unchanged.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::nanos::Nanos;
use governor::state::{InMemoryState, StateStore};
use governor::{Quota, RateLimiter};

/// Cells of one route's table: 65,536 × 8 bytes = 512 KiB, enough that tens of
/// thousands of active keys rarely share one.
const CELLS: usize = 1 << 16;

/// What a route's buckets are per.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitKey {
    /// The client's address.
    SourceIp,
    /// A request header's value (lower-case name); requests without it pass.
    Header(http::HeaderName),
    /// One bucket for the route.
    Route,
}

/// A route's limit as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitParams {
    /// Tokens a second.
    pub per_second: NonZeroU32,
    /// Bucket size.
    pub burst: NonZeroU32,
    /// What a bucket is per.
    pub key: LimitKey,
}

/// The fixed table of buckets (module doc), as governor's state store.
/// Its keys are the requests' key hashes.
#[derive(Debug)]
pub struct Cells {
    cells: Box<[InMemoryState]>,
}

impl Cells {
    fn new() -> Self {
        Self {
            cells: (0..CELLS).map(|_| InMemoryState::default()).collect(),
        }
    }
}

impl StateStore for Cells {
    type Key = u64;

    fn measure_and_replace<T, F, E>(&self, key: &Self::Key, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        // CELLS is a power of two: the low bits of the hash pick the cell.
        let at = (*key as usize) & (CELLS - 1);
        match self.cells.get(at) {
            Some(cell) => cell.measure_and_replace(&governor::state::NotKeyed::NonKey, f),
            None => f(None).map(|(outcome, _)| outcome),
        }
    }
}

type Limiter = RateLimiter<u64, Cells, DefaultClock>;

/// A rate limit and its buckets: a route's, or a listener's connection rate.
#[derive(Debug)]
pub struct RateLimit {
    /// As configured.
    pub params: RateLimitParams,
    limiter: Limiter,
    seed: RandomState,
    clock: DefaultClock,
    refused: metrics::Counter,
}

/// A request the limit refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// When a token is back, rounded up to whole seconds (`Retry-After`).
    pub retry_after: u64,
}

impl RateLimit {
    /// Full buckets for `params`; refusals counted in `refused`.
    pub fn new(params: RateLimitParams, refused: metrics::Counter) -> Self {
        let quota = Quota::per_second(params.per_second).allow_burst(params.burst);
        let clock = DefaultClock::default();
        let limiter: Limiter = RateLimiter::new(quota, Cells::new(), clock.clone());
        Self {
            params,
            limiter,
            seed: RandomState::new(),
            clock,
            refused,
        }
    }

    /// Takes a token from `key`'s bucket; `Err` when it is empty.
    pub fn check(&self, key: &[u8]) -> Result<(), Limited> {
        match self.limiter.check_key(&self.seed.hash_one(key)) {
            Ok(_) => Ok(()),
            Err(not_until) => {
                self.refused.increment(1);
                let wait = not_until.wait_time_from(self.clock.now());
                Err(Limited {
                    retry_after: seconds_up(wait),
                })
            }
        }
    }

    /// [`RateLimit::check`] for a client address: an IPv4 address and the same one
    /// mapped into IPv6 (`::ffff:a.b.c.d`, as a dual-stack socket shows it) take from
    /// one bucket.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Limited> {
        match address.to_canonical() {
            IpAddr::V4(ip) => self.check(&ip.octets()),
            IpAddr::V6(ip) => self.check(&ip.octets()),
        }
    }
}

/// The rate limits of listener `spec`'s routes, by route index: those of `previous`'s
/// same listener kept where the route at that index has the same limit (its buckets
/// survive the reload), new ones elsewhere.
pub(crate) fn route_limits(
    spec: &sluicegate_config::ListenerSpec,
    previous: Option<&crate::Snapshot>,
) -> Vec<Option<Arc<RateLimit>>> {
    let old = previous.and_then(|p| p.listener(spec.name.as_str()));
    spec.routes
        .iter()
        .enumerate()
        .map(|(i, route)| {
            let params = params(route.rate_limit.as_ref()?)?;
            let kept = old
                .and_then(|l| l.rate_limits.get(i))
                .and_then(Option::as_ref)
                .filter(|l| l.params == params);
            let refused = || {
                let labels = [
                    ("listener", spec.name.to_string()),
                    ("route", i.to_string()),
                ];
                metrics::counter!(sluicegate_metrics::names::RATE_LIMITED_TOTAL, &labels)
            };
            Some(
                kept.cloned()
                    .unwrap_or_else(|| Arc::new(RateLimit::new(params, refused()))),
            )
        })
        .collect()
}

/// Listener `spec`'s connection rate limit: `previous`'s same listener's kept when the
/// limit is unchanged (its buckets survive the reload), a new one otherwise. Refusals
/// are counted by the listener's series (`sluicegate_downstream_connections_refused_total`),
/// not by the limit.
pub(crate) fn connection_limit(
    spec: &sluicegate_config::ListenerSpec,
    previous: Option<&crate::Snapshot>,
) -> Option<Arc<RateLimit>> {
    let rate = spec.connection_rate_limit?;
    let params = RateLimitParams {
        per_second: NonZeroU32::new(rate.per_second)?,
        burst: NonZeroU32::new(rate.burst)?,
        key: LimitKey::SourceIp,
    };
    let kept = previous
        .and_then(|p| p.listener(spec.name.as_str()))
        .and_then(|l| l.connection_rate.as_ref())
        .filter(|l| l.params == params);
    Some(
        kept.cloned()
            .unwrap_or_else(|| Arc::new(RateLimit::new(params, metrics::Counter::noop()))),
    )
}

fn params(spec: &sluicegate_config::RateLimitSpec) -> Option<RateLimitParams> {
    let key = match &spec.key {
        sluicegate_config::LimitKey::SourceIp => LimitKey::SourceIp,
        sluicegate_config::LimitKey::Route => LimitKey::Route,
        // Checked by the config's validation.
        sluicegate_config::LimitKey::Header(name) => {
            LimitKey::Header(http::HeaderName::from_bytes(name.as_bytes()).ok()?)
        }
    };
    Some(RateLimitParams {
        per_second: NonZeroU32::new(spec.per_second)?,
        burst: NonZeroU32::new(spec.burst)?,
        key,
    })
}

/// `wait` in whole seconds, rounded up, at least 1.
fn seconds_up(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, burst: u32) -> RateLimit {
        let params = RateLimitParams {
            per_second: NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN),
            key: LimitKey::SourceIp,
        };
        RateLimit::new(params, metrics::Counter::noop())
    }

    #[test]
    fn a_key_gets_its_burst_then_waits_while_others_are_untouched() {
        let limit = limit(1, 3);
        for _ in 0..3 {
            assert!(limit.check(b"a").is_ok());
        }
        assert_eq!(limit.check(b"a"), Err(Limited { retry_after: 1 }));
        assert!(limit.check(b"b").is_ok());
    }

    #[test]
    fn a_million_distinct_keys_fit_in_the_same_table() {
        // Each key once: with a burst of 100, even the cells that collide have room.
        let limit = limit(100, 100);
        let refused = (0u32..1_000_000)
            .filter(|n| limit.check(&n.to_le_bytes()).is_err())
            .count();
        assert_eq!(refused, 0);
        // And the table still limits: one key past its burst is refused.
        let limit = self::limit(1, 1);
        assert!(limit.check(b"k").is_ok());
        assert!(limit.check(b"k").is_err());
    }

    #[test]
    fn an_ipv4_address_and_its_ipv6_mapped_form_share_a_bucket() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        let limit = limit(1, 1);
        let v4 = Ipv4Addr::new(192, 0, 2, 7);
        assert!(limit.check_address(IpAddr::V4(v4)).is_ok());
        assert!(
            limit
                .check_address(IpAddr::V6(v4.to_ipv6_mapped()))
                .is_err()
        );
        assert!(limit.check_address(IpAddr::V6(Ipv6Addr::LOCALHOST)).is_ok());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(seconds_up(Duration::from_millis(1500)), 2);
        assert_eq!(seconds_up(Duration::ZERO), 1);
    }
}
