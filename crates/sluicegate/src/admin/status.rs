//! The model of `GET /status` (JSON) and of the HTML status page: a plain copy of the
//! live config's state, taken at request time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sluicegate_health::{Check, Probe};
use sluicegate_runtime::{Backend, Snapshot};

use crate::discovery::DiscoveryStatus;
use crate::reload_log::{ReloadAttempt, ReloadLog};
use sluicegate_runtime::ReloadOutcome;

/// Everything `/status` reports.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// sluicegate's version.
    pub version: &'static str,
    /// Seconds since the process started serving.
    pub uptime_seconds: f64,
    /// Generation of the config being served (1 at start, +1 per applied reload).
    pub generation: u64,
    /// `true` until SIGTERM starts the drain.
    pub ready: bool,
    /// Unix time (seconds) at which the config being served was loaded.
    pub loaded_at: f64,
    /// The last reload attempt, if any since start.
    pub last_reload: Option<ReloadReport>,
    /// Listeners, by name.
    pub listeners: Vec<ListenerStatus>,
    /// Clusters, by name.
    pub clusters: Vec<ClusterStatus>,
}

/// One reload attempt.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadReport {
    /// Unix time (seconds) of the attempt.
    pub at: f64,
    /// What asked for it: `file`, `signal` or `admin`.
    pub trigger: &'static str,
    /// `success` or `error`.
    pub result: &'static str,
    /// Generation it produced (success only).
    pub generation: Option<u64>,
    /// What changed (success only).
    pub changes: Vec<String>,
    /// Why it was rejected (error only), each with its YAML path.
    pub errors: Vec<ReloadErrorReport>,
}

/// One reason a reload was rejected.
#[derive(Clone, Debug, Serialize)]
pub struct ReloadErrorReport {
    /// YAML path, e.g. `clusters.api.backends[0].address`; empty for the whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line in the file, where known.
    pub line: Option<usize>,
}

/// One listener.
#[derive(Clone, Debug, Serialize)]
pub struct ListenerStatus {
    /// Its name.
    pub name: String,
    /// The address it is bound to now.
    pub address: Option<SocketAddr>,
    /// `http`.
    pub protocol: String,
    /// Number of routes.
    pub routes: usize,
    /// The certificates it serves (TLS listeners; empty on cleartext), as loaded now:
    /// after a renewal on disk, the new one.
    pub certificates: Vec<CertificateStatus>,
}

/// One certificate a TLS listener serves.
#[derive(Clone, Debug, Serialize)]
pub struct CertificateStatus {
    /// Its file.
    pub cert: String,
    /// The names SNI picks it for.
    pub names: Vec<String>,
    /// Unix time (seconds) of its notAfter.
    pub not_after: f64,
}

/// The status of one served certificate.
fn certificate(info: sluicegate_tls::CertInfo) -> CertificateStatus {
    CertificateStatus {
        cert: info.cert.display().to_string(),
        names: info.names,
        not_after: unix_seconds(info.not_after),
    }
}

/// One cluster.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterStatus {
    /// Its name.
    pub name: String,
    /// Its balancing policy, as written in the config.
    pub policy: &'static str,
    /// Requests in flight over its backends.
    pub in_flight: u64,
    /// Its active check, e.g. `http GET /healthz every 2s (rise 2, fall 3)`.
    pub health_check: Option<String>,
    /// Whether too few backends are healthy and every one is picked (panic mode).
    pub panic: bool,
    /// Retries in flight now.
    pub retries_in_flight: u64,
    /// Where its backends come from, for a cluster with `discovery:`; `null` for one
    /// with `backends:`.
    pub discovery: Option<DiscoveryStatus>,
    /// Its backends, in config order (a discovered cluster's in address order).
    pub backends: Vec<BackendStatus>,
}

/// One backend.
#[derive(Clone, Debug, Serialize)]
pub struct BackendStatus {
    /// `IP:port`.
    pub address: String,
    /// The `host:port` the address was resolved from (`localhost:9001`); `null` for an
    /// IP literal in the config.
    pub name: Option<String>,
    /// Configured weight.
    pub weight: u32,
    /// `up`, `down` (in the config), `drained` (admin API), `unhealthy` (active
    /// checks), `ejected` (outlier detection) or `unreachable` (skipped for a while
    /// after a connect failure or a response timeout).
    pub state: &'static str,
    /// The last active check, if the cluster checks.
    pub last_check: Option<CheckStatus>,
    /// Outlier ejections since it joined.
    pub ejections: u64,
    /// Unix time (seconds) at which its current ejection ends.
    pub ejected_until: Option<f64>,
    /// Requests in flight.
    pub in_flight: u64,
    /// Exchanges since it joined (responses and failures).
    pub requests: u64,
    /// Failed exchanges since it joined (no response, or a 5xx).
    pub failures: u64,
    /// Slow-start ramp in per-cent of its weight (100 when not ramping).
    pub ramp_percent: u32,
}

/// One active check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckStatus {
    /// Whether it passed.
    pub passed: bool,
    /// What it saw: `status 200`, `connect: Connection refused`, `timed out after 1s` …
    pub detail: String,
    /// Unix time (seconds) when it ended.
    pub at: f64,
}

/// Seconds since the Unix epoch.
pub fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Status {
    /// The status of `snapshot`, with its listeners' bound addresses from `bound`.
    pub fn of(
        snapshot: &Snapshot,
        bound: impl Fn(&str) -> Option<SocketAddr>,
        reloads: &ReloadLog,
        discovery: &BTreeMap<String, DiscoveryStatus>,
        ready: bool,
    ) -> Self {
        Status {
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: reloads.started.elapsed().as_secs_f64(),
            generation: snapshot.generation,
            ready,
            loaded_at: unix_seconds(reloads.loaded_at),
            last_reload: reloads.last.as_ref().map(ReloadReport::of),
            listeners: snapshot
                .listeners
                .iter()
                .map(|l| ListenerStatus {
                    name: l.name.to_string(),
                    address: bound(l.name.as_str()),
                    protocol: l.protocol.to_string(),
                    routes: l.routes.len(),
                    certificates: l.tls.as_ref().map_or_else(Vec::new, |t| {
                        let served = t.server.certificates().into_iter();
                        served.map(certificate).collect()
                    }),
                })
                .collect(),
            clusters: snapshot
                .clusters
                .iter()
                .map(|c| ClusterStatus {
                    name: c.name.to_string(),
                    policy: c.policy.name(),
                    in_flight: c.in_flight(),
                    health_check: c.health.check.as_deref().map(describe_check),
                    panic: c.in_panic(),
                    retries_in_flight: c.retries_in_flight(),
                    discovery: discovery.get(c.name.as_str()).cloned(),
                    backends: c.backends.iter().map(BackendStatus::of).collect(),
                })
                .collect(),
        }
    }
}

impl BackendStatus {
    fn of(b: &Backend) -> Self {
        let (requests, failures) = b.outcomes();
        let health = b.health();
        BackendStatus {
            address: b.address().to_string(),
            name: b.name.as_deref().map(str::to_owned),
            weight: b.weight,
            state: b.state().as_str(),
            last_check: health.last_check().map(|c| CheckStatus {
                passed: c.passed,
                detail: c.detail,
                at: unix_seconds(c.at),
            }),
            ejections: health.ejections(),
            ejected_until: health.ejected_until().map(unix_seconds),
            in_flight: b.in_flight(),
            requests,
            failures,
            ramp_percent: b.ramp() / 10,
        }
    }
}

/// A one-line summary of an active check.
fn describe_check(check: &Check) -> String {
    let what = match &check.probe {
        Probe::Tcp => "tcp connect".to_owned(),
        Probe::Http(http) => format!("http {} {}", http.method, http.path),
    };
    format!(
        "{what} every {:?} (timeout {:?}, rise {}, fall {})",
        check.interval, check.timeout, check.rise, check.fall
    )
}

impl ReloadReport {
    fn of(attempt: &ReloadAttempt) -> Self {
        let (result, generation, changes, errors) = match &attempt.outcome {
            ReloadOutcome::Applied {
                generation,
                changes,
            } => ("success", Some(*generation), changes.clone(), Vec::new()),
            ReloadOutcome::Rejected(errors) => (
                "error",
                None,
                Vec::new(),
                errors
                    .iter()
                    .map(|e| ReloadErrorReport {
                        path: e.path.clone(),
                        message: e.message.clone(),
                        line: e.line,
                    })
                    .collect(),
            ),
        };
        ReloadReport {
            at: unix_seconds(attempt.at),
            trigger: attempt.trigger,
            result,
            generation,
            changes,
            errors,
        }
    }
}
