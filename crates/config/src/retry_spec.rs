//! Validated `retries:` of a cluster and its defaults. Plain data; the runtime turns
//! it into a `RetryPolicy`, and the http crate acts on that.

use std::time::Duration;

/// Defaults of the `retries:` keys (documented in the README).
pub mod retry_defaults {
    use std::time::Duration;

    /// `retries.attempts`: retries after the first try (Envoy's `num_retries` is 1; two
    /// ride out one dead backend of three with room to spare).
    pub const ATTEMPTS: u32 = 2;
    /// `retries.budget`: Envoy's budget is 20%, but one dead backend of three turns a
    /// third of the requests in flight into resends at the same moment (every request
    /// on it is reset), and 20% would refuse some of them. Half covers one dead backend
    /// in three or two in five, and still caps a cluster that fails everything at 1.5×
    /// its load (3× with the two attempts and no budget).
    pub const BUDGET_PERCENT: u8 = 50;
    /// `retries.min_concurrent`: Envoy's `min_retry_concurrency`.
    pub const MIN_CONCURRENT: u32 = 3;
    /// `retries.backoff`: Envoy's base retry interval.
    pub const BACKOFF: Duration = Duration::from_millis(25);
    /// Longest `retries.backoff`: it doubles per retry, and a client waits through it.
    pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
    /// Largest request body buffered so that it can be sent again: 64 KiB.
    pub const BUFFER: usize = 64 * 1024;
}

/// Retries (`retries:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySpec {
    /// Retries after the first try.
    pub attempts: u32,
    /// Which failures are retried.
    pub on: RetryOn,
    /// Retries in flight may be this share of the cluster's active requests …
    pub budget_percent: u8,
    /// … or this many, whichever is larger.
    pub min_concurrent: u32,
    /// Pause before each retry.
    pub backoff: Duration,
}

/// Failures that may be retried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetryOn {
    /// The connection to the backend could not be opened (always safe: nothing was sent).
    pub connect_failure: bool,
    /// The connection failed after the request was sent, before a response head.
    pub reset: bool,
    /// No response head within the response timeout.
    pub timeout: bool,
    /// Backend statuses (5xx) that are retried.
    pub statuses: Vec<u16>,
}

impl RetryOn {
    /// The condition names `on:` accepts besides status codes.
    pub const NAMES: [&'static str; 3] = ["connect_failure", "reset", "timeout"];
}
