//! One backend's runtime state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sluicegate_core::BackendKey;
use sluicegate_health::HealthCell;
use sluicegate_metrics::{BackendSeries, HealthSeries};

use crate::Ramp;

/// State of a backend that outlives one snapshot: a reload hands it to the next
/// snapshot's entry with the same [`BackendKey`].
#[derive(Debug, Clone, Default)]
pub struct Carried {
    /// Requests in flight on this backend.
    pub(crate) in_flight: Arc<AtomicU64>,
    /// Its slow-start ramp, if it joined within the window.
    pub(crate) ramp: Option<Arc<Ramp>>,
    /// Its health: checks, ejection and admin drain in one atomic word.
    pub(crate) health: Arc<HealthCell>,
    /// Responses received from it (any status), for the status page.
    pub(crate) responses: Arc<AtomicU64>,
    /// Requests sent to it that failed (no response, or a 5xx from it).
    pub(crate) failures: Arc<AtomicU64>,
}

/// Whether a backend may be picked, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendState {
    /// Picked by its cluster's policy.
    Up,
    /// Marked `down: true` in the config.
    Down,
    /// Drained through the admin API: in-flight requests finish, no new ones.
    Drained,
    /// Failing its active health checks.
    Unhealthy,
    /// Ejected for a while after consecutive failures (passive checks).
    Ejected,
    /// Skipped for a while after a connect failure or a response timeout, or back
    /// from that and tried by one request at a time until one succeeds.
    Unreachable,
}

impl BackendState {
    /// `up`, `down` or `drained`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendState::Up => "up",
            BackendState::Down => "down",
            BackendState::Drained => "drained",
            BackendState::Unhealthy => "unhealthy",
            BackendState::Ejected => "ejected",
            BackendState::Unreachable => "unreachable",
        }
    }
}

/// A backend as the data plane sees it.
#[derive(Debug)]
pub struct Backend {
    /// Identity across reloads.
    pub key: BackendKey,
    /// The `host:port` its address was resolved from, for display; `None` for an IP
    /// literal in the config.
    pub name: Option<Arc<str>>,
    /// Configured weight.
    pub weight: u32,
    /// Marked down in the config: never picked.
    pub down: bool,
    carried: Carried,
    /// Requests in flight on the whole cluster (shared by its backends).
    cluster_in_flight: Arc<AtomicU64>,
    /// Its metric series.
    pub series: BackendSeries,
    /// Its health series (no-ops in a cluster without health features).
    pub health_series: HealthSeries,
}

impl Backend {
    /// A backend with its carried state and its cluster's in-flight total.
    pub(crate) fn new(
        key: BackendKey,
        name: Option<Arc<str>>,
        weight: u32,
        down: bool,
        carried: Carried,
        cluster_in_flight: Arc<AtomicU64>,
        series: (BackendSeries, HealthSeries),
    ) -> Self {
        Self {
            key,
            name,
            weight,
            down,
            carried,
            cluster_in_flight,
            series: series.0,
            health_series: series.1,
        }
    }

    /// Whether the policy may pick it.
    #[inline]
    pub fn is_eligible(&self) -> bool {
        !self.down
            && self
                .carried
                .health
                .is_eligible_when(|| self.in_flight() == 0)
    }

    /// Whether it may be picked in panic mode: health is ignored then, but the
    /// operator's `down` and drain are not.
    #[inline]
    pub fn is_candidate(&self) -> bool {
        !self.down && !self.carried.health.is_drained()
    }

    /// Why it may or may not be picked.
    pub fn state(&self) -> BackendState {
        let health = &self.carried.health;
        if self.down {
            BackendState::Down
        } else if health.is_drained() {
            BackendState::Drained
        } else if health.is_unhealthy() {
            BackendState::Unhealthy
        } else if health.is_ejected() {
            BackendState::Ejected
        } else if health.is_unreachable() || health.on_probation() {
            BackendState::Unreachable
        } else {
            BackendState::Up
        }
    }

    /// Its health cell (kept across reloads while the backend stays in the config).
    pub fn health(&self) -> &Arc<HealthCell> {
        &self.carried.health
    }

    /// Counts a response from it, and whether the exchange failed.
    #[inline]
    pub fn record_outcome(&self, failed: bool) {
        self.carried.responses.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.carried.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Exchanges with it since it joined: (all, failed).
    pub fn outcomes(&self) -> (u64, u64) {
        (
            self.carried.responses.load(Ordering::Relaxed),
            self.carried.failures.load(Ordering::Relaxed),
        )
    }

    /// Keeps its series alive through the next scrape.
    pub fn touch_metrics(&self) {
        self.series.touch();
        self.health_series.touch();
    }

    /// The backend's address.
    pub fn address(&self) -> SocketAddr {
        self.key.address
    }

    /// Requests currently in flight.
    pub fn in_flight(&self) -> u64 {
        self.carried.in_flight.load(Ordering::Relaxed)
    }

    /// Slow-start ramp in per-mille of the weight (1000 when not ramping).
    #[inline]
    pub fn ramp(&self) -> u32 {
        self.carried
            .ramp
            .as_ref()
            .map_or(Ramp::FULL, |r| r.permille())
    }

    /// Counts one request in flight (here and in the cluster total) until the guard drops.
    pub fn start_request(&self) -> InFlightGuard {
        self.carried.in_flight.fetch_add(1, Ordering::Relaxed);
        self.cluster_in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard {
            backend: self.carried.in_flight.clone(),
            cluster: self.cluster_in_flight.clone(),
        }
    }

    pub(crate) fn carried(&self) -> &Carried {
        &self.carried
    }
}

/// Decrements a backend's and its cluster's in-flight counts when dropped (response
/// body ended or the client went away).
#[derive(Debug)]
pub struct InFlightGuard {
    backend: Arc<AtomicU64>,
    cluster: Arc<AtomicU64>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.backend.fetch_sub(1, Ordering::Relaxed);
        self.cluster.fetch_sub(1, Ordering::Relaxed);
    }
}
