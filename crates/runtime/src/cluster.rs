//! One cluster's runtime state: its backends, its policy, its health parameters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluicegate_balance::{AnyPolicy, Policy};
use sluicegate_core::{ClusterName, EndpointSet, PickKey, ProxyVersion, UpstreamProtocol};

use crate::upstream_tls::UpstreamTls;
use sluicegate_health::{Check, Outlier, Unreachable, mark_unreachable, schedule_readmission};
use sluicegate_metrics::{DiscoverySeries, RetrySeries};

use crate::origin::Origin;
use crate::retry::{RetryBudget, RetryPolicy};
use crate::{Backend, HashKey};

/// A cluster's health parameters.
#[derive(Debug, Default)]
pub struct ClusterHealth {
    /// Active checks, if configured (run by the supervisor).
    pub check: Option<Arc<Check>>,
    /// Outlier ejection, if configured.
    pub outlier: Option<Outlier>,
    /// Quick ejection after a connect failure or response timeout (on by default).
    pub unreachable: Option<Unreachable>,
    /// Healthy percentage below which every candidate is picked, healthy or not (0 = off).
    pub panic_threshold: u8,
}

/// A cluster as the data plane sees it.
#[derive(Debug)]
pub struct Cluster {
    /// Its name.
    pub name: ClusterName,
    /// Its backends, in config order.
    pub backends: Vec<Backend>,
    /// Its balancing policy.
    pub policy: AnyPolicy,
    /// What its policy hashes, for the hashing policies.
    pub hash_key: Option<HashKey>,
    /// Slow-start window of backends that join.
    pub slow_start: Option<Duration>,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Time from request sent to response head.
    pub response_timeout: Duration,
    /// Longest wait for the next bytes of a response body.
    pub response_body_timeout: Duration,
    /// Idle time of pooled upstream connections.
    pub idle_timeout: Duration,
    /// Most HTTP/1.1 connections open at once to each backend; `None`: no limit.
    pub max_connections: Option<u32>,
    /// With `max_connections`: most requests waiting for a connection to a backend.
    pub max_pending: u32,
    /// With `max_connections`: longest wait for a connection to a backend.
    pub queue_timeout: Duration,
    /// What the backends speak.
    pub upstream_protocol: UpstreamProtocol,
    /// PING interval on HTTP/2 upstream connections; `None`: no PINGs.
    pub h2_keepalive: Option<Duration>,
    /// TLS to the backends; `None`: cleartext.
    pub tls: Option<UpstreamTls>,
    /// The PROXY protocol header sent first on every connection to a backend.
    pub send_proxy_protocol: Option<ProxyVersion>,
    /// Health checks, outlier ejection and panic mode.
    pub health: ClusterHealth,
    /// Retries, if configured.
    pub retry: Option<RetryPolicy>,
    /// Its retry series (no-ops without retries).
    pub retry_series: RetrySeries,
    /// Its discovery source's series, for a cluster with `discovery:`.
    pub discovery_series: Option<DiscoverySeries>,
    /// Requests in flight over all backends (carried across reloads by cluster name).
    pub(crate) in_flight: Arc<AtomicU64>,
    /// Retries in flight (carried like `in_flight`).
    pub(crate) retries: RetryBudget,
    /// What is derived from the backends' health, recomputed when the epoch moves.
    pub(crate) cache: HealthCache,
    /// Serialises outlier ejections (count, then eject) within the cluster.
    pub(crate) ejecting: Mutex<()>,
    /// What it was compiled from: the next compile reuses it when that is unchanged.
    pub(crate) origin: Origin,
}

/// Eligible weight and panic mode, valid for one health epoch.
#[derive(Debug)]
pub(crate) struct HealthCache {
    epoch: AtomicU64,
    eligible_weight: AtomicU64,
    candidate_weight: AtomicU64,
    panic: AtomicBool,
    recomputing: Mutex<()>,
}

impl Default for HealthCache {
    fn default() -> Self {
        Self {
            epoch: AtomicU64::new(u64::MAX),
            eligible_weight: AtomicU64::new(0),
            candidate_weight: AtomicU64::new(0),
            panic: AtomicBool::new(false),
            recomputing: Mutex::new(()),
        }
    }
}

impl Cluster {
    /// Chooses a backend (its index and itself), or `None` when none is eligible (→ 503).
    /// In panic mode (too few healthy) it picks among all candidates, healthy or not.
    pub fn pick(&self, key: &PickKey) -> Option<(usize, &Backend)> {
        self.pick_untried(key, &[])
    }

    /// Like [`Cluster::pick`], but treats the backends at indices `avoid` (those a
    /// retry already tried) as ineligible; falls back to them when nothing else is.
    pub fn pick_avoiding(&self, key: &PickKey, avoid: &[usize]) -> Option<(usize, &Backend)> {
        match self.pick_untried(key, avoid) {
            None if !avoid.is_empty() => self.pick(key),
            picked => picked,
        }
    }

    /// Like [`Cluster::pick_avoiding`], without the fallback: `None` once every
    /// eligible backend is in `tried`.
    pub fn pick_untried(&self, key: &PickKey, tried: &[usize]) -> Option<(usize, &Backend)> {
        let i = if self.refresh() {
            self.policy.pick(
                key,
                &Endpoints::<true> {
                    cluster: self,
                    avoid: tried,
                },
            )
        } else {
            self.policy.pick(
                key,
                &Endpoints::<false> {
                    cluster: self,
                    avoid: tried,
                },
            )
        }?;
        self.backends.get(i).map(|b| (i, b))
    }

    /// Brings the health cache up to date; returns whether the cluster panics.
    #[inline]
    fn refresh(&self) -> bool {
        let now = sluicegate_health::epoch();
        if self.cache.epoch.load(Ordering::Acquire) != now {
            self.recompute();
        }
        self.cache.panic.load(Ordering::Relaxed)
    }

    /// Recomputes the cache for the current epoch. One thread at a time (a thread
    /// that finds another at it keeps the previous values for this pick), so an older
    /// result can never be stamped with a newer epoch.
    #[cold]
    fn recompute(&self) {
        let Ok(_only_me) = self.cache.recomputing.try_lock() else {
            return;
        };
        let epoch = sluicegate_health::epoch();
        let (mut eligible, mut candidates, mut healthy, mut count) = (0u64, 0u64, 0usize, 0usize);
        for b in &self.backends {
            if b.is_candidate() {
                count += 1;
                candidates += u64::from(b.weight);
                if b.is_eligible() {
                    healthy += 1;
                    eligible += u64::from(b.weight);
                }
            }
        }
        let threshold = usize::from(self.health.panic_threshold);
        let panic = threshold > 0 && count > 0 && healthy * 100 < threshold * count;
        self.cache
            .eligible_weight
            .store(eligible, Ordering::Relaxed);
        self.cache
            .candidate_weight
            .store(candidates, Ordering::Relaxed);
        let was = self.cache.panic.swap(panic, Ordering::Relaxed);
        self.cache.epoch.store(epoch, Ordering::Release);
        if panic && !was {
            tracing::warn!(cluster = %self.name, "panic mode: {healthy} of {count} backends healthy, below {threshold}%: balancing over all of them");
        } else if was && !panic {
            tracing::info!(cluster = %self.name, "panic mode over: {healthy} of {count} backends healthy");
        }
    }

    /// Whether the cluster is in panic mode now.
    pub fn in_panic(&self) -> bool {
        self.refresh()
    }

    /// Requests in flight over all backends.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The backend at `address`, with its index.
    pub fn backend(&self, address: SocketAddr) -> Option<(usize, &Backend)> {
        self.backends
            .iter()
            .enumerate()
            .find(|(_, b)| b.address() == address)
    }

    /// Drains the backend at `address` (it gets no new requests; those in flight
    /// finish) or enables it again. The setting is kept across reloads while the
    /// backend stays in the config. Returns the previous setting, or `None` when the
    /// cluster has no such backend.
    pub fn set_drained(&self, address: SocketAddr, drained: bool) -> Option<bool> {
        let (_, backend) = self.backend(address)?;
        Some(backend.health().set_drained(drained))
    }

    /// Counts one exchange with `backend` (a failure is a connect error, a reset, a
    /// timeout or a 5xx) for the status page and the outlier detector, which may eject
    /// it, unless that would eject more than the allowed share of the cluster.
    pub fn record_outcome(&self, backend: &Backend, failed: bool) {
        backend.record_outcome(failed);
        if self.health.outlier.is_none() && self.health.unreachable.is_none() {
            return;
        }
        // A success also ends an unreachable probation and resets its doubling.
        let in_a_row = backend.health().record_exchange(failed);
        let Some(outlier) = &self.health.outlier else {
            return;
        };
        if in_a_row < outlier.consecutive_failures || backend.health().is_ejected() {
            return;
        }
        // Counting and ejecting are one step, so two backends failing at the same
        // moment cannot both pass the cap. Only ejections take this lock.
        let _one_at_a_time = self.ejecting.lock();
        let ejected = self
            .backends
            .iter()
            .filter(|b| b.health().is_ejected())
            .count();
        if outlier.may_eject(ejected, self.backends.len()) {
            schedule_readmission(
                backend.health(),
                outlier,
                backend.key.to_string(),
                backend.health_series.clone(),
            );
        }
    }

    /// Takes `backend` out of new picks for a while after a connect failure or a
    /// response timeout (`why`), unless it is the last eligible backend of the cluster:
    /// then requests keep going to it and fail fast, and panic mode applies as usual.
    pub fn record_unreachable(&self, backend: &Backend, why: &str) {
        let Some(params) = self.health.unreachable else {
            return;
        };
        // Marked again from probation too, where another request may be in flight.
        if backend.health().is_unreachable() || !backend.is_candidate() {
            return;
        }
        // Counting and marking are one step, as for outlier ejections.
        let _one_at_a_time = self.ejecting.lock();
        let others = self
            .backends
            .iter()
            .filter(|b| b.is_eligible() && !std::ptr::eq(*b, backend))
            .count();
        if others > 0 {
            mark_unreachable(
                backend.health(),
                params,
                backend.key.to_string(),
                why,
                backend.health_series.clone(),
            );
        }
    }
}

/// The `EndpointSet` view over a cluster's backends; `PANIC` ignores health, and
/// the backends at `avoid` are not eligible.
struct Endpoints<'a, const PANIC: bool> {
    cluster: &'a Cluster,
    avoid: &'a [usize],
}

impl<const PANIC: bool> EndpointSet for Endpoints<'_, PANIC> {
    fn len(&self) -> usize {
        self.cluster.backends.len()
    }

    fn weight(&self, i: usize) -> u32 {
        self.cluster.backends.get(i).map_or(0, |b| b.weight)
    }

    fn is_eligible(&self, i: usize) -> bool {
        !self.avoid.contains(&i)
            && self.cluster.backends.get(i).is_some_and(|b| {
                if PANIC {
                    b.is_candidate()
                } else {
                    b.is_eligible()
                }
            })
    }

    fn in_flight(&self, i: usize) -> u64 {
        self.cluster.backends.get(i).map_or(0, Backend::in_flight)
    }

    fn ramp(&self, i: usize) -> u32 {
        self.cluster.backends.get(i).map_or(0, Backend::ramp)
    }

    fn total_in_flight(&self) -> u64 {
        self.cluster.in_flight()
    }

    fn eligible_weight(&self) -> u64 {
        let weight = if PANIC {
            &self.cluster.cache.candidate_weight
        } else {
            &self.cluster.cache.eligible_weight
        };
        weight.load(Ordering::Relaxed)
    }
}
