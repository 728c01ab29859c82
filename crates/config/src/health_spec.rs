//! Validated health keys of a cluster: active checks, outlier ejection and panic mode.
//! Plain data; the `health` and `runtime` crates act on them. Retries are in
//! `retry_spec.rs`.

use std::time::Duration;

/// Defaults of the health keys (documented in the README).
pub mod health_defaults {
    use std::time::Duration;

    /// `health_check.path`: the conventional liveness path.
    pub const PATH: &str = "/healthz";
    /// `health_check.interval`: HAProxy's `inter 2s`.
    pub const INTERVAL: Duration = Duration::from_secs(2);
    /// `health_check.timeout`: HAProxy's `timeout check` is often set to half the interval.
    pub const TIMEOUT: Duration = Duration::from_secs(1);
    /// `health_check.rise`: HAProxy's default.
    pub const RISE: u32 = 2;
    /// `health_check.fall`: HAProxy's default.
    pub const FALL: u32 = 3;
    /// `health_check.jitter`: enough to keep a fleet of proxies out of lockstep.
    pub const JITTER_PERCENT: u8 = 10;
    /// `outlier.consecutive_failures`: Envoy's `consecutive_5xx`.
    pub const CONSECUTIVE_FAILURES: u32 = 5;
    /// `outlier.base_ejection`: Envoy's `base_ejection_time`.
    pub const BASE_EJECTION: Duration = Duration::from_secs(30);
    /// `outlier.max_ejection`: Envoy's `max_ejection_time`.
    pub const MAX_EJECTION: Duration = Duration::from_secs(300);
    /// `outlier.max_ejected_percent`: at most half a cluster is taken out by errors alone.
    pub const MAX_EJECTED_PERCENT: u8 = 50;
    /// `unreachable.ejection`: nginx's `fail_timeout` is 10 s after `max_fails=1`; a
    /// shorter first skip, doubling while the backend keeps failing, gives a restarted
    /// backend its traffic back sooner.
    pub const UNREACHABLE_EJECTION: Duration = Duration::from_secs(1);
    /// `unreachable.max_ejection`: a backend that stays down is tried twice a minute.
    pub const UNREACHABLE_MAX_EJECTION: Duration = Duration::from_secs(30);
}

/// Active checks of a cluster (`health_check:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheckSpec {
    /// What a check does.
    pub kind: CheckKind,
    /// Time between checks of one backend.
    pub interval: Duration,
    /// Time one check may take.
    pub timeout: Duration,
    /// Consecutive passes that turn a backend healthy.
    pub rise: u32,
    /// Consecutive failures that turn a backend unhealthy.
    pub fall: u32,
    /// Each interval is drawn from `interval ± jitter%`.
    pub jitter_percent: u8,
    /// Whether a new backend starts healthy (or waits for `rise` passes).
    pub initially_healthy: bool,
}

/// What one active check does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// Opens a TCP connection and closes it.
    Tcp,
    /// Sends one HTTP/1.1 request on a fresh connection and reads the status.
    Http(HttpCheck),
}

/// An HTTP check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCheck {
    /// Request path (starts with `/`).
    pub path: String,
    /// Request method (upper case).
    pub method: String,
    /// `Host` header; the backend's address when absent.
    pub host: Option<String>,
    /// Inclusive status ranges that pass.
    pub expect: Vec<(u16, u16)>,
}

impl HttpCheck {
    /// Whether `status` passes.
    pub fn expects(&self, status: u16) -> bool {
        self.expect
            .iter()
            .any(|&(lo, hi)| (lo..=hi).contains(&status))
    }
}

/// Passive checks (`outlier:`): ejection after consecutive failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutlierSpec {
    /// Failures in a row (connect errors, resets, 5xx) that eject a backend.
    pub consecutive_failures: u32,
    /// Ejection time of the first ejection; the n-th lasts n times as long.
    pub base_ejection: Duration,
    /// Cap of the ejection time.
    pub max_ejection: Duration,
    /// Largest share of the cluster's backends ejected at once.
    pub max_ejected_percent: u8,
}

/// Quick passive ejection (`unreachable:`): one connect failure or response timeout
/// takes a backend out of new picks for `ejection`, doubling up to `max_ejection` while
/// it keeps failing; a success or a passing check resets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnreachableSpec {
    /// Time of the first ejection.
    pub ejection: Duration,
    /// Cap of the ejection time.
    pub max_ejection: Duration,
}

impl Default for UnreachableSpec {
    fn default() -> Self {
        Self {
            ejection: health_defaults::UNREACHABLE_EJECTION,
            max_ejection: health_defaults::UNREACHABLE_MAX_EJECTION,
        }
    }
}
