//! One backend's health, shared by the data plane, its checker task, the outlier
//! detector and the admin API, and kept across reloads by backend identity.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// Failing its active checks.
const UNHEALTHY: u8 = 1;
/// Ejected by the outlier detector.
const EJECTED: u8 = 2;
/// Drained through the admin API.
const DRAINED: u8 = 4;
/// Skipped after a connect failure or a response timeout (see `unreachable.rs`).
const UNREACHABLE: u8 = 8;
/// Back from an unreachable mark, not yet answered: one request at a time may try it.
const PROBATION: u8 = 16;

/// Bumped by every change of any cell's eligibility, so a cluster can cache what it
/// derives from its cells (eligible weight, healthy share) and recompute only then.
static EPOCH: AtomicU64 = AtomicU64::new(0);

/// The current health epoch: it changes whenever any backend's eligibility changes.
#[inline]
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::Acquire)
}

/// The outcome of one active check, for the status page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckRecord {
    /// Whether it passed.
    pub passed: bool,
    /// What it saw: `status 200`, `connection refused`, `timed out after 1s` …
    pub detail: String,
    /// When it ended (wall clock).
    pub at: SystemTime,
}

/// A backend's health: one atomic word of flags (unhealthy by checks, ejected,
/// drained) read with one relaxed load, plus what the status page shows.
#[derive(Debug, Default)]
pub struct HealthCell {
    flags: AtomicU8,
    /// Failed exchanges in a row (passive checks).
    failures: AtomicU32,
    /// Times ejected in the current streak (the ejection-time multiplier).
    ejections: AtomicU32,
    /// Times ejected since the backend joined.
    ejections_total: AtomicU64,
    /// Identifies the current ejection, so a stale readmission timer does nothing.
    ejection_id: AtomicU64,
    /// Unreachable marks in a row, without a success or a passing check between
    /// them (the doubling exponent of the next mark).
    unreachable_streak: AtomicU32,
    /// Identifies the current unreachable mark, like `ejection_id`.
    unreachable_id: AtomicU64,
    detail: Mutex<Detail>,
}

#[derive(Debug, Default)]
struct Detail {
    last_check: Option<CheckRecord>,
    ejected_until: Option<SystemTime>,
    readmitted_at: Option<Instant>,
}

impl HealthCell {
    /// A cell for a backend that joins: healthy, or unhealthy until its checks pass.
    pub fn new(healthy: bool) -> Self {
        let cell = Self::default();
        if !healthy {
            cell.flags.store(UNHEALTHY, Ordering::Relaxed);
        }
        cell
    }

    /// Whether the backend may be picked: healthy, not ejected, not drained. A backend
    /// on probation may be picked while it has no request in flight (`idle`).
    #[inline]
    pub fn is_eligible_when(&self, idle: impl FnOnce() -> bool) -> bool {
        match self.flags.load(Ordering::Relaxed) {
            0 => true,
            PROBATION => idle(),
            _ => false,
        }
    }

    /// Whether the backend may be picked, as [`HealthCell::is_eligible_when`] with a
    /// backend on probation counted as busy.
    #[inline]
    pub fn is_eligible(&self) -> bool {
        self.flags.load(Ordering::Relaxed) == 0
    }

    /// Whether it is back from an unreachable mark and has not answered yet.
    pub fn on_probation(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & PROBATION != 0
    }

    /// Whether neither checks nor passive ejection hold it out (drain aside).
    #[inline]
    pub fn is_healthy(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & (UNHEALTHY | EJECTED | UNREACHABLE | PROBATION) == 0
    }

    /// Whether a connect failure or response timeout holds it out for a while.
    pub fn is_unreachable(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & UNREACHABLE != 0
    }

    /// Whether its active checks hold it out.
    pub fn is_unhealthy(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & UNHEALTHY != 0
    }

    /// Whether the outlier detector holds it out.
    pub fn is_ejected(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & EJECTED != 0
    }

    /// Whether the admin API drained it.
    pub fn is_drained(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & DRAINED != 0
    }

    /// Sets or clears `flag`; returns whether it was set before.
    fn set(&self, flag: u8, on: bool) -> bool {
        let before = if on {
            self.flags.fetch_or(flag, Ordering::AcqRel)
        } else {
            self.flags.fetch_and(!flag, Ordering::AcqRel)
        };
        let was = before & flag != 0;
        if was != on {
            EPOCH.fetch_add(1, Ordering::AcqRel);
        }
        was
    }

    /// Marks it failing (or passing) its active checks; returns the previous setting.
    pub fn set_unhealthy(&self, unhealthy: bool) -> bool {
        self.set(UNHEALTHY, unhealthy)
    }

    /// Drains it or enables it again; returns the previous setting.
    pub fn set_drained(&self, drained: bool) -> bool {
        self.set(DRAINED, drained)
    }

    /// Keeps the outcome of an active check for the status page.
    pub fn record_check(&self, record: CheckRecord) {
        if let Ok(mut detail) = self.detail.lock() {
            detail.last_check = Some(record);
        }
    }

    /// The last active check, if any ran.
    pub fn last_check(&self) -> Option<CheckRecord> {
        self.detail.lock().ok().and_then(|d| d.last_check.clone())
    }

    /// Counts one exchange for the outlier detector. A success resets the count of
    /// failures in a row (and writes only if it was not zero, so a healthy backend's
    /// cache line stays shared); a failure returns how many there now are in a row.
    #[inline]
    pub fn record_exchange(&self, failed: bool) -> u32 {
        if failed {
            self.failures
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1)
        } else {
            if self.failures.load(Ordering::Relaxed) != 0 {
                self.failures.store(0, Ordering::Relaxed);
            }
            if self.unreachable_streak.load(Ordering::Relaxed) != 0 {
                self.unreachable_streak.store(0, Ordering::Relaxed);
            }
            if self.on_probation() {
                self.set(PROBATION, false);
            }
            0
        }
    }

    /// Ejects it unless it is ejected already. The ejection lasts `base` × the number
    /// of ejections in the current streak, at most `max`; a streak ends when the
    /// backend stayed in rotation for `max` since its last readmission. Returns the
    /// ejection's id and length.
    pub fn eject(&self, base: Duration, max: Duration) -> Option<(u64, Duration)> {
        if self.set(EJECTED, true) {
            return None;
        }
        self.failures.store(0, Ordering::Relaxed);
        let now = Instant::now();
        let mut detail = self.detail.lock().ok();
        let streak_over = detail
            .as_ref()
            .and_then(|d| d.readmitted_at)
            .is_some_and(|at| now.saturating_duration_since(at) >= max);
        if streak_over {
            self.ejections.store(0, Ordering::Relaxed);
        }
        let n = self
            .ejections
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        self.ejections_total.fetch_add(1, Ordering::Relaxed);
        let length = base.saturating_mul(n).min(max);
        if let Some(d) = detail.as_mut() {
            d.ejected_until = SystemTime::now().checked_add(length);
        }
        let id = self
            .ejection_id
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1);
        Some((id, length))
    }

    /// Ends ejection `id`; does nothing if another ejection replaced it. Returns
    /// whether the backend was readmitted.
    pub fn readmit(&self, id: u64) -> bool {
        if self.ejection_id.load(Ordering::Acquire) != id || !self.is_ejected() {
            return false;
        }
        if let Ok(mut detail) = self.detail.lock() {
            detail.ejected_until = None;
            detail.readmitted_at = Some(Instant::now());
        }
        // Failures of requests still in flight at the ejection do not count: a
        // readmitted backend needs N failures in a row again.
        self.failures.store(0, Ordering::Relaxed);
        self.set(EJECTED, false)
    }

    /// Marks it unreachable unless it is already. The mark lasts `base` doubled for
    /// each mark since the last success or passing check, at most `max`. Returns the
    /// mark's id and length.
    pub fn mark_unreachable(&self, base: Duration, max: Duration) -> Option<(u64, Duration)> {
        if self.set(UNREACHABLE, true) {
            return None;
        }
        self.set(PROBATION, false);
        let n = self.unreachable_streak.fetch_add(1, Ordering::Relaxed);
        let length = base.saturating_mul(1 << n.min(16)).min(max);
        let id = self
            .unreachable_id
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1);
        Some((id, length))
    }

    /// Ends unreachable mark `id` (a stale timer's id does nothing): the backend goes
    /// on probation, where one request at a time tries it until one succeeds, so a
    /// backend still down does not get a full share of requests again. Returns whether
    /// the backend was marked.
    pub fn end_unreachable(&self, id: u64) -> bool {
        if self.unreachable_id.load(Ordering::Acquire) != id || !self.is_unreachable() {
            return false;
        }
        self.set(PROBATION, true);
        self.set(UNREACHABLE, false)
    }

    /// A passing active check: the backend answers, so an unreachable mark ends now
    /// and the next one starts again from the base time. Returns whether it was marked.
    pub fn reachable_again(&self) -> bool {
        self.unreachable_streak.store(0, Ordering::Relaxed);
        self.set(PROBATION, false);
        self.set(UNREACHABLE, false)
    }

    /// Until when it is ejected (wall clock), if it is.
    pub fn ejected_until(&self) -> Option<SystemTime> {
        self.detail.lock().ok().and_then(|d| d.ejected_until)
    }

    /// Times ejected since the backend joined.
    pub fn ejections(&self) -> u64 {
        self.ejections_total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_combine_and_bump_the_epoch_only_on_change() {
        let cell = HealthCell::new(true);
        assert!(cell.is_eligible() && cell.is_healthy());
        let before = epoch();
        assert!(!cell.set_drained(true));
        assert!(!cell.is_eligible() && cell.is_healthy() && cell.is_drained());
        assert!(epoch() > before);
        let after = epoch();
        assert!(cell.set_drained(true));
        assert!(!cell.set_unhealthy(true));
        assert!(epoch() > after);
        assert!(!cell.is_healthy());
        cell.set_drained(false);
        cell.set_unhealthy(false);
        assert!(cell.is_eligible());
        assert!(!HealthCell::new(false).is_eligible());
    }

    #[test]
    fn failures_in_a_row_reset_on_success() {
        let cell = HealthCell::new(true);
        assert_eq!(cell.record_exchange(true), 1);
        assert_eq!(cell.record_exchange(true), 2);
        assert_eq!(cell.record_exchange(false), 0);
        assert_eq!(cell.record_exchange(true), 1);
    }
}
