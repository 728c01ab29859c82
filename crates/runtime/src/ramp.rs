//! Slow start: a backend that joins a cluster ramps its effective weight linearly
//! from 10% to 100% over the cluster's `slow_start` window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The ramp of one backend, started when it joined.
#[derive(Debug)]
pub struct Ramp {
    start: Instant,
    window: Duration,
    /// Set once the window has passed, so a finished ramp costs one relaxed load.
    done: AtomicBool,
}

impl Ramp {
    /// Per-mille of the weight at full ramp.
    pub const FULL: u32 = 1000;
    /// Per-mille of the weight right after joining (10%, as HAProxy's `slowstart`
    /// starts low rather than at zero so the backend sees traffic at once).
    pub const START: u32 = 100;

    /// A ramp starting now over `window`.
    pub fn starting_now(window: Duration) -> Self {
        Self::starting_at(Instant::now(), window)
    }

    /// A ramp that started at `start`.
    pub fn starting_at(start: Instant, window: Duration) -> Self {
        Self {
            start,
            window,
            done: AtomicBool::new(window.is_zero()),
        }
    }

    /// When it started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Whether the window has passed.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed) || self.start.elapsed() >= self.window
    }

    /// The current share of the weight, in per-mille: 100 at the start, 1000 at the end.
    #[inline]
    pub fn permille(&self) -> u32 {
        if self.done.load(Ordering::Relaxed) {
            return Self::FULL;
        }
        self.permille_at(self.start.elapsed())
    }

    fn permille_at(&self, elapsed: Duration) -> u32 {
        if elapsed >= self.window {
            self.done.store(true, Ordering::Relaxed);
            return Self::FULL;
        }
        let span = u128::from(Self::FULL - Self::START);
        let gained = span * elapsed.as_nanos() / self.window.as_nanos().max(1);
        Self::START + u32::try_from(gained).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramps_linearly_from_ten_percent_to_full() {
        let ramp = Ramp::starting_at(Instant::now(), Duration::from_secs(10));
        assert_eq!(ramp.permille_at(Duration::ZERO), 100);
        assert_eq!(ramp.permille_at(Duration::from_secs(5)), 550);
        assert_eq!(ramp.permille_at(Duration::from_millis(9_999)), 999);
        assert_eq!(ramp.permille_at(Duration::from_secs(10)), 1000);
        // Once done it stays done.
        assert_eq!(ramp.permille(), 1000);
        assert!(ramp.is_done());
    }

    #[test]
    fn a_zero_window_is_full_at_once() {
        assert_eq!(Ramp::starting_now(Duration::ZERO).permille(), 1000);
    }
}
