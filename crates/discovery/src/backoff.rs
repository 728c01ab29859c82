//! The waits between lookups of a source that failed or answered nothing: short at
//! first, so a record restored soon is seen soon, doubling up to the source's own
//! refresh, so a source that stays down is asked no more often than a healthy one.

use std::time::Duration;

/// The first wait after a failure.
pub(crate) const FIRST_RETRY: Duration = Duration::from_secs(1);

/// Waits that double from [`FIRST_RETRY`] up to a ceiling.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    ceiling: Duration,
}

impl Backoff {
    /// Waits up to `ceiling` (the source's refresh).
    pub(crate) fn new(ceiling: Duration) -> Self {
        Self {
            next: FIRST_RETRY.min(ceiling),
            ceiling,
        }
    }

    /// The wait before the next try, doubling the one after.
    pub(crate) fn wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(self.ceiling);
        wait
    }

    /// Back to [`FIRST_RETRY`], after a good answer.
    pub(crate) fn reset(&mut self) {
        self.next = FIRST_RETRY.min(self.ceiling);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_ceiling_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(5));
        let waits: Vec<u64> = (0..5).map(|_| b.wait().as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.wait(), FIRST_RETRY);
    }
}
