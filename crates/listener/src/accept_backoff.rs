//! What an accept loop does when `accept` fails: out of file descriptors (`EMFILE`,
//! `ENFILE`), buffers (`ENOBUFS`) or memory (`ENOMEM`). The pending connection stays
//! in the kernel's backlog and the socket stays readable, so retrying at once would
//! spin; the loop waits instead, longer after each failure in a row (from
//! [`FIRST`], doubling, up to [`LONGEST`]: HAProxy pauses its listeners the same
//! way), and starts again from [`FIRST`] once an accept succeeds. Failures are
//! counted one by one but logged at most once per [`LOG_EVERY`], with the number
//! left out: a process out of descriptors must not also flood its log.

use std::time::Duration;

use tokio::time::Instant;

/// The wait after the first failure in a row: short enough that a descriptor freed
/// meanwhile is used at once.
const FIRST: Duration = Duration::from_millis(5);
/// The longest wait: the loop still notices a freed descriptor within a second.
const LONGEST: Duration = Duration::from_secs(1);
/// At most one log line per this long.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// The backoff state of one accept loop.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    next: Duration,
    logged: Option<Instant>,
    unlogged: u64,
}

impl Default for AcceptBackoff {
    fn default() -> Self {
        Self {
            next: FIRST,
            logged: None,
            unlogged: 0,
        }
    }
}

impl AcceptBackoff {
    /// An accept succeeded: the next failure waits [`FIRST`] again.
    pub(crate) fn succeeded(&mut self) {
        self.next = FIRST;
    }

    /// An accept failed with `error`: logs it (rate-limited) and waits.
    pub(crate) async fn failed(&mut self, listener: &str, error: &std::io::Error) {
        let wait = self.next;
        self.next = (self.next * 2).min(LONGEST);
        let now = Instant::now();
        if self
            .logged
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY)
        {
            let skipped = std::mem::take(&mut self.unlogged);
            tracing::warn!(
                listener,
                skipped,
                "accept failed, retrying in {wait:?}: {error}"
            );
            self.logged = Some(now);
        } else {
            self.unlogged += 1;
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn waits_double_up_to_a_second_and_start_over_after_a_success() {
        let mut backoff = AcceptBackoff::default();
        let error = std::io::Error::from_raw_os_error(24);
        let mut waits = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            backoff.failed("web", &error).await;
            waits.push(started.elapsed().as_millis());
        }
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.succeeded();
        let started = Instant::now();
        backoff.failed("web", &error).await;
        assert_eq!(started.elapsed(), FIRST);
    }
}
