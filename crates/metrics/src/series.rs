//! Bundles of metric handles, registered when a config is compiled and kept by the
//! objects they describe, so the data plane records without any lookup.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, counter, gauge};

use crate::body_errors::{BodyErrorReason, BodyErrors};
use crate::labels::{CodeClass, ConnectReason, ConnectionLimit, ErrorKind, RejectReason};
use crate::lazy::LazyCounter;
use crate::names::*;
use crate::sessions::UpstreamBytes;

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The histogram named by `key`, from the installed recorder: the existing one, or a
/// new one if it expired (see the crate docs). A no-op without a recorder.
pub fn histogram(key: &Key) -> Histogram {
    metrics::with_recorder(|recorder| recorder.register_histogram(key, &METADATA))
}

/// A histogram handle registered with the recorder at its first sample, so a
/// histogram with no sample is never exported (at fleet size, empty histograms were
/// most of a scrape: 17 lines each). The exporter drops a histogram that had no sample
/// for a while, and a handle to a dropped histogram records into nothing, so the
/// binary calls [`HistogramCell::renew`] (through the owners' `renew_histograms`) right
/// after every scrape, where drops happen: the handle is forgotten and the next sample
/// looks the histogram up again, once.
#[derive(Debug)]
pub struct HistogramCell {
    key: Key,
    handle: ArcSwapOption<Histogram>,
}

impl HistogramCell {
    fn register(key: Key) -> Self {
        Self {
            key,
            handle: ArcSwapOption::empty(),
        }
    }

    /// Records one sample.
    #[inline]
    pub fn record(&self, value: impl metrics::IntoF64) {
        self.get().record(value);
    }

    /// The handle, to record into now or later; registers the histogram if this is
    /// the first sample since it was created or renewed.
    #[inline]
    pub fn get(&self) -> Histogram {
        if let Some(handle) = &*self.handle.load() {
            return Histogram::clone(handle);
        }
        let handle = histogram(&self.key);
        self.handle.store(Some(Arc::new(handle.clone())));
        handle
    }

    /// Forgets the handle: the next sample looks the histogram up again (creating it
    /// if the exporter dropped it). A histogram that gets no sample stays unexported.
    pub fn renew(&self) {
        self.handle.store(None);
    }
}

pub(crate) fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(*k, (*v).to_owned()))
        .collect();
    Key::from_parts(name, labels)
}

fn touch_all(counters: &[Counter]) {
    for c in counters {
        c.increment(0);
    }
}

/// `sluicegate_requests_total` for one label set, one counter per status class.
#[derive(Debug)]
pub struct CodeCounters([LazyCounter; 5]);

impl CodeCounters {
    /// Registers the five series of `labels` (`listener`, and `cluster` where known)
    /// now: they are exported as 0 before the first request.
    pub fn register(labels: &[(&'static str, &str)]) -> Self {
        Self::with(labels, LazyCounter::eager)
    }

    /// The five series of `labels`, each registered at its first count: a backend's,
    /// so thousands of idle backends export no zeros.
    pub fn register_lazy(labels: &[(&'static str, &str)]) -> Self {
        Self::with(labels, LazyCounter::new)
    }

    fn with(labels: &[(&'static str, &str)], make: fn(Key) -> LazyCounter) -> Self {
        Self(CodeClass::ALL.map(|class| {
            let mut labels = labels.to_vec();
            labels.push(("code", class.label()));
            make(key(REQUESTS_TOTAL, &labels))
        }))
    }

    /// Counters that record nothing, for a combination that cannot happen.
    pub fn noop() -> Self {
        Self([const { LazyCounter::noop() }; 5])
    }

    /// Counts one response with `status`.
    #[inline]
    pub fn count(&self, status: u16) {
        if let Some(c) = self.0.get(CodeClass::of(status).index()) {
            c.increment(1);
        }
    }

    /// Keeps the registered series alive through the next scrape.
    pub fn touch(&self) {
        for c in &self.0 {
            c.touch();
        }
    }
}

/// Every series of one backend. Its counters and its histogram are registered when
/// they first record (see [`LazyCounter`]); its two gauges at once.
#[derive(Debug)]
pub struct BackendSeries {
    /// `sluicegate_requests_total`, by listener index (no-op where the listener does
    /// not route to this backend's cluster).
    requests: Vec<CodeCounters>,
    connect_errors: [LazyCounter; 5],
    /// Held by the backend's pool and connections too.
    body_errors: Arc<BodyErrors>,
    stale_retries: LazyCounter,
    /// `sluicegate_upstream_overflow_total` by kind: `queued`, `queue_full`,
    /// `queue_timeout`.
    overflow: [LazyCounter; 3],
    response: HistogramCell,
    /// Bytes of layer-4 sessions both ways.
    upstream_bytes: UpstreamBytes,
}

impl BackendSeries {
    /// Registers the series of backend `backend` of `cluster`. `listeners` holds, for
    /// each listener index, the listener's name if it routes to `cluster`.
    pub fn register(cluster: &str, backend: &str, listeners: &[Option<&str>]) -> Self {
        let labels = [("cluster", cluster), ("backend", backend)];
        Self {
            requests: listeners
                .iter()
                .map(|l| match l {
                    Some(listener) => CodeCounters::register_lazy(&[
                        ("listener", listener),
                        ("cluster", cluster),
                        ("backend", backend),
                    ]),
                    None => CodeCounters::noop(),
                })
                .collect(),
            connect_errors: ConnectReason::ALL.map(|reason| {
                let labels = [
                    ("cluster", cluster),
                    ("backend", backend),
                    ("reason", reason.label()),
                ];
                LazyCounter::new(key(UPSTREAM_CONNECT_ERRORS_TOTAL, &labels))
            }),
            body_errors: BodyErrors::new(BodyErrorReason::ALL.map(|reason| {
                let labels = [
                    ("cluster", cluster),
                    ("backend", backend),
                    ("reason", reason.label()),
                ];
                LazyCounter::new(key(UPSTREAM_BODY_ERRORS_TOTAL, &labels))
            })),
            stale_retries: LazyCounter::new(key(UPSTREAM_STALE_RETRIES_TOTAL, &labels)),
            overflow: ["queued", "queue_full", "queue_timeout"].map(|kind| {
                let labels = [("cluster", cluster), ("backend", backend), ("kind", kind)];
                LazyCounter::new(key(UPSTREAM_OVERFLOW_TOTAL, &labels))
            }),
            response: HistogramCell::register(key(BACKEND_RESPONSE_SECONDS, &labels)),
            upstream_bytes: UpstreamBytes::register(cluster, backend),
        }
    }

    /// Its layer-4 sessions' byte counters.
    pub fn upstream_bytes(&self) -> &UpstreamBytes {
        &self.upstream_bytes
    }

    /// The request counters for responses sent on listener `listener` (an index).
    #[inline]
    pub fn requests(&self, listener: usize) -> Option<&CodeCounters> {
        self.requests.get(listener)
    }

    /// Counts a failed connection attempt.
    pub fn connect_error(&self, reason: ConnectReason) {
        if let Some(c) = self.connect_errors.get(reason.index()) {
            c.increment(1);
        }
    }

    /// Counts a request sent again on a fresh connection after an idle close.
    pub fn stale_retry(&self) {
        self.stale_retries.increment(1);
    }

    /// The body error counters, for its pool and connections to count in.
    pub fn body_errors(&self) -> Arc<BodyErrors> {
        self.body_errors.clone()
    }

    /// The counter of requests that waited for a connection (the backend at its
    /// `max_connections`), for its pool to count in.
    pub fn queued(&self) -> LazyCounter {
        self.overflow[0].clone()
    }

    /// Counts a request refused because `max_pending` requests already waited
    /// (`full`), or because it waited the whole queue timeout.
    pub fn queue_overflow(&self, full: bool) {
        self.overflow[if full { 1 } else { 2 }].increment(1);
    }

    /// `sluicegate_backend_response_seconds` of this backend.
    #[inline]
    pub fn response_seconds(&self) -> &HistogramCell {
        &self.response
    }

    /// Renews its histogram handles; see [`HistogramCell`].
    pub fn renew_histograms(&self) {
        self.response.renew();
    }

    /// Keeps every registered series alive through the next scrape. (Its gauges are
    /// not registered: see [`crate::BackendGauges`].)
    pub fn touch(&self) {
        for r in &self.requests {
            r.touch();
        }
        for c in &self.connect_errors {
            c.touch();
        }
        self.body_errors.touch();
        self.stale_retries.touch();
        for c in &self.overflow {
            c.touch();
        }
        self.upstream_bytes.touch();
    }
}

/// What one listener records for requests routed to one cluster.
#[derive(Debug)]
struct Routed {
    /// Responses the proxy sent itself (no backend picked).
    requests: CodeCounters,
    duration: HistogramCell,
}

/// Every series of one listener.
#[derive(Debug)]
pub struct ListenerSeries {
    unrouted: Routed,
    /// By cluster index; `None` where the listener does not route.
    clusters: Vec<Option<Routed>>,
    errors: [Counter; ErrorKind::ALL.len()],
    rejected: [Counter; 5],
    connections_active: Gauge,
    connections_idle: Gauge,
    connections_total: Counter,
    connections_refused: [Counter; ConnectionLimit::ALL.len()],
    accept_errors: Counter,
    send_timeouts: Counter,
    tunnels_active: Gauge,
    tunnels_total: Counter,
    bytes_received: Counter,
    bytes_sent: Counter,
}

impl ListenerSeries {
    /// Registers the series of listener `listener`. `clusters` holds, for each
    /// cluster index, the cluster's name if the listener routes to it.
    pub fn register(listener: &str, clusters: &[Option<&str>]) -> Self {
        let l = || listener.to_owned();
        Self {
            unrouted: Routed {
                requests: CodeCounters::register(&[("listener", listener)]),
                duration: HistogramCell::register(key(
                    REQUEST_DURATION_SECONDS,
                    &[("listener", listener)],
                )),
            },
            clusters: clusters
                .iter()
                .map(|c| {
                    c.map(|cluster| {
                        let labels = [("listener", listener), ("cluster", cluster)];
                        Routed {
                            requests: CodeCounters::register_lazy(&labels),
                            duration: HistogramCell::register(key(
                                REQUEST_DURATION_SECONDS,
                                &labels,
                            )),
                        }
                    })
                })
                .collect(),
            errors: ErrorKind::ALL
                .map(|kind| counter!(ERRORS_TOTAL, "listener" => l(), "kind" => kind.label())),
            rejected: RejectReason::ALL.map(|reason| {
                counter!(REJECTED_REQUESTS_TOTAL, "listener" => l(), "reason" => reason.label())
            }),
            connections_active: gauge!(DOWNSTREAM_CONNECTIONS_ACTIVE, "listener" => l()),
            connections_idle: gauge!(DOWNSTREAM_CONNECTIONS_IDLE, "listener" => l()),
            connections_total: counter!(DOWNSTREAM_CONNECTIONS_TOTAL, "listener" => l()),
            connections_refused: ConnectionLimit::ALL.map(|limit| {
                let reason = limit.label();
                counter!(DOWNSTREAM_CONNECTIONS_REFUSED_TOTAL, "listener" => l(), "reason" => reason)
            }),
            accept_errors: counter!(ACCEPT_ERRORS_TOTAL, "listener" => l()),
            send_timeouts: counter!(DOWNSTREAM_SEND_TIMEOUTS_TOTAL, "listener" => l()),
            tunnels_active: gauge!(TUNNELS_ACTIVE, "listener" => l()),
            tunnels_total: counter!(TUNNELS_TOTAL, "listener" => l()),
            bytes_received: counter!(BYTES_RECEIVED_TOTAL, "listener" => l()),
            bytes_sent: counter!(BYTES_SENT_TOTAL, "listener" => l()),
        }
    }

    fn routed(&self, cluster: Option<usize>) -> &Routed {
        cluster
            .and_then(|c| self.clusters.get(c))
            .and_then(Option::as_ref)
            .unwrap_or(&self.unrouted)
    }

    /// Request counters for responses the proxy sent itself, for requests routed to
    /// `cluster` (an index) or, with `None`, for requests no route matched.
    #[inline]
    pub fn requests(&self, cluster: Option<usize>) -> &CodeCounters {
        &self.routed(cluster).requests
    }

    /// `sluicegate_request_duration_seconds` of requests routed to `cluster` (an
    /// index), or of those no route matched.
    #[inline]
    pub fn duration(&self, cluster: Option<usize>) -> &HistogramCell {
        &self.routed(cluster).duration
    }

    /// Renews its histogram handles; see [`HistogramCell`].
    pub fn renew_histograms(&self) {
        self.unrouted.duration.renew();
        for routed in self.clusters.iter().flatten() {
            routed.duration.renew();
        }
    }

    /// Counts a request the proxy answered with an error.
    pub fn error(&self, kind: ErrorKind) {
        if let Some(c) = self.errors.get(kind.index()) {
            c.increment(1);
        }
    }

    /// Counts a request the HTTP parser refused, answered with `status` (none for a
    /// head that timed out): as rejected, as a `bad_request` error, and as a request.
    pub fn rejected(&self, reason: RejectReason, status: Option<u16>) {
        if let Some(c) = self.rejected.get(reason.index()) {
            c.increment(1);
        }
        self.error(ErrorKind::BadRequest);
        if let Some(status) = status {
            self.unrouted.requests.count(status);
        }
    }

    /// Counts an accepted connection; the returned gauge is to be decremented when it
    /// closes.
    pub fn connection_opened(&self) -> Gauge {
        self.connections_total.increment(1);
        self.connections_active.increment(1.0);
        self.connections_active.clone()
    }

    /// Counts a connection parked idle; the returned gauge is to be decremented when
    /// it wakes or closes.
    pub fn connection_parked(&self) -> Gauge {
        self.connections_idle.increment(1.0);
        self.connections_idle.clone()
    }

    /// Counts a connection closed at accept by `limit`.
    pub fn connection_refused(&self, limit: ConnectionLimit) {
        self.connections_refused[limit.index()].increment(1);
    }

    /// Counts a failed `accept`.
    pub fn accept_failed(&self) {
        self.accept_errors.increment(1);
    }

    /// Counts a tunnel opened (an upgraded connection); the returned gauge is to be
    /// decremented when it closes.
    pub fn tunnel_opened(&self) -> Gauge {
        self.tunnels_total.increment(1);
        self.tunnels_active.increment(1.0);
        self.tunnels_active.clone()
    }

    /// The byte counters (received, sent), for a connection to keep.
    pub fn bytes(&self) -> (Counter, Counter) {
        (self.bytes_received.clone(), self.bytes_sent.clone())
    }

    /// `sluicegate_downstream_send_timeouts_total`, for a connection to keep.
    pub fn send_timeouts(&self) -> Counter {
        self.send_timeouts.clone()
    }

    /// Keeps every series alive through the next scrape.
    pub fn touch(&self) {
        self.unrouted.requests.touch();
        for routed in self.clusters.iter().flatten() {
            routed.requests.touch();
        }
        touch_all(&self.errors);
        touch_all(&self.rejected);
        self.connections_total.increment(0);
        self.bytes_received.increment(0);
        self.bytes_sent.increment(0);
        self.send_timeouts.increment(0);
        self.connections_active.increment(0.0);
        self.connections_idle.increment(0.0);
        self.tunnels_total.increment(0);
        self.tunnels_active.increment(0.0);
    }
}

/// Process-wide series: reloads, generation, build.
#[derive(Debug)]
pub struct ProcessSeries {
    reloads: [Counter; 2],
    generation: Gauge,
    last_success: Gauge,
    /// `sluicegate_config_last_reload_successful`, and what it says (kept here: the
    /// gauge is set again at every scrape, so the exporter keeps it).
    last_ok: Gauge,
    last_attempt_ok: std::sync::atomic::AtomicBool,
    build_info: Gauge,
}

impl ProcessSeries {
    /// Registers the process series; `sluicegate_build_info` is labelled with the
    /// build's `version`, git `commit` and `rustc` version.
    pub fn register(version: &str, commit: &str, rustc: &str) -> Self {
        Self {
            reloads: ["success", "error"].map(|r| counter!(CONFIG_RELOADS_TOTAL, "result" => r)),
            generation: gauge!(CONFIG_GENERATION),
            last_success: gauge!(CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS),
            last_ok: gauge!(CONFIG_LAST_RELOAD_SUCCESSFUL),
            last_attempt_ok: std::sync::atomic::AtomicBool::new(true),
            build_info: gauge!(
                BUILD_INFO,
                "version" => version.to_owned(),
                "commit" => commit.to_owned(),
                "rustc" => rustc.to_owned()
            ),
        }
    }

    /// Counts a reload attempt.
    pub fn reloaded(&self, success: bool) {
        let [ok, error] = &self.reloads;
        if success { ok } else { error }.increment(1);
        self.last_attempt_ok
            .store(success, std::sync::atomic::Ordering::Relaxed);
        self.last_ok.set(if success { 1.0 } else { 0.0 });
    }

    /// Sets the gauges and keeps every series alive through the next scrape.
    /// `last_success` is in seconds since the Unix epoch.
    pub fn touch(&self, generation: u64, last_success: f64) {
        touch_all(&self.reloads);
        #[allow(clippy::cast_precision_loss)]
        self.generation.set(generation as f64);
        self.last_success.set(last_success);
        let ok = self
            .last_attempt_ok
            .load(std::sync::atomic::Ordering::Relaxed);
        self.last_ok.set(if ok { 1.0 } else { 0.0 });
        self.build_info.set(1.0);
    }
}
