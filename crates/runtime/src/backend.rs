//! One backend's runtime state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sluicegate_core::BackendKey;

use crate::Ramp;

/// State of a backend that outlives one snapshot: a reload hands it to the next
/// snapshot's entry with the same [`BackendKey`].
#[derive(Debug, Clone, Default)]
pub struct Carried {
    /// Requests in flight on this backend.
    pub(crate) in_flight: Arc<AtomicU64>,
    /// Its slow-start ramp, if it joined within the window.
    pub(crate) ramp: Option<Arc<Ramp>>,
}

/// A backend as the data plane sees it.
#[derive(Debug)]
pub struct Backend {
    /// Identity across reloads.
    pub key: BackendKey,
    /// Configured weight.
    pub weight: u32,
    /// Marked down in the config: never picked.
    pub down: bool,
    carried: Carried,
    /// Requests in flight on the whole cluster (shared by its backends).
    cluster_in_flight: Arc<AtomicU64>,
}

impl Backend {
    /// A backend with its carried state and its cluster's in-flight total.
    pub(crate) fn new(
        key: BackendKey,
        weight: u32,
        down: bool,
        carried: Carried,
        cluster_in_flight: Arc<AtomicU64>,
    ) -> Self {
        Self {
            key,
            weight,
            down,
            carried,
            cluster_in_flight,
        }
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
