//! One backend's runtime state.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sluicegate_core::BackendKey;

/// A backend as the data plane sees it.
#[derive(Debug)]
pub struct Backend {
    /// Identity across reloads.
    pub key: BackendKey,
    /// Configured weight.
    pub weight: u32,
    /// Marked down in the config: never picked.
    pub down: bool,
    /// Requests in flight; shared with the previous snapshot's entry for the same key.
    in_flight: Arc<AtomicU64>,
}

impl Backend {
    /// A backend with its in-flight counter (reused across reloads by key).
    pub fn new(key: BackendKey, weight: u32, down: bool, in_flight: Arc<AtomicU64>) -> Self {
        Self {
            key,
            weight,
            down,
            in_flight,
        }
    }

    /// The backend's address.
    pub fn address(&self) -> SocketAddr {
        self.key.address
    }

    /// Requests currently in flight.
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts one request in flight until the guard drops.
    pub fn start_request(&self) -> InFlightGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(self.in_flight.clone())
    }

    pub(crate) fn counter(&self) -> &Arc<AtomicU64> {
        &self.in_flight
    }
}

/// Decrements a backend's in-flight count when dropped (response body ended or the
/// client went away).
#[derive(Debug)]
pub struct InFlightGuard(Arc<AtomicU64>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
