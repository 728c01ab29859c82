//! Rise/fall counting: a backend changes state only after `rise` passes or `fall`
//! failures in a row, so one lost probe does not flap it (HAProxy's `rise`/`fall`).

/// The checker task's private state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hysteresis {
    rise: u32,
    fall: u32,
    healthy: bool,
    /// Results in a row that argue for the other state.
    streak: u32,
}

impl Hysteresis {
    /// Starts in state `healthy`; `rise` and `fall` are at least 1.
    pub fn new(rise: u32, fall: u32, healthy: bool) -> Self {
        Self {
            rise: rise.max(1),
            fall: fall.max(1),
            healthy,
            streak: 0,
        }
    }

    /// The current state.
    pub fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// Results in a row against the current state.
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Counts one check; returns the new state when this result flipped it.
    pub fn record(&mut self, passed: bool) -> Option<bool> {
        if passed == self.healthy {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if self.healthy { self.fall } else { self.rise };
        if self.streak < needed {
            return None;
        }
        self.healthy = passed;
        self.streak = 0;
        Some(passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_after_fall_failures_in_a_row_and_rises_after_rise_passes() {
        let mut h = Hysteresis::new(2, 3, true);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(true), None, "a pass breaks the streak");
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), Some(false));
        assert!(!h.is_healthy());
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(true), None);
        assert_eq!(h.record(false), None, "a failure breaks the streak");
        assert_eq!(h.record(true), None);
        assert_eq!(h.record(true), Some(true));
        assert!(h.is_healthy());
    }

    #[test]
    fn rise_and_fall_of_one_flip_at_once() {
        let mut h = Hysteresis::new(1, 1, false);
        assert_eq!(h.record(true), Some(true));
        assert_eq!(h.record(false), Some(false));
        assert_eq!(Hysteresis::new(0, 0, true).record(false), Some(false));
    }
}
