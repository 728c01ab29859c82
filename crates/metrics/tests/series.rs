//! The handle bundles record under the labels and names the README documents.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use sluicegate_metrics::{
    BackendSeries, BodyErrorReason, ConnectReason, ErrorKind, L4ListenerSeries, L4Refusal,
    ListenerSeries, SessionEnd, names,
};

/// Every series as `name{k=v,...} value`, sorted.
fn lines(recorder: &DebuggingRecorder) -> Vec<String> {
    let mut out: Vec<String> = recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (name, labels) = key.key().clone().into_parts();
            let mut labels: Vec<String> = labels
                .iter()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let value = match value {
                DebugValue::Counter(c) => c.to_string(),
                DebugValue::Gauge(g) => g.into_inner().to_string(),
                DebugValue::Histogram(h) => format!("{} samples", h.len()),
            };
            format!("{}{{{}}} {value}", name.as_str(), labels.join(","))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn backend_series_count_per_listener_and_class() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        let series = BackendSeries::register("api", "127.0.0.1:9001", &[Some("web"), None]);
        series.requests(0).unwrap().count(200);
        series.requests(0).unwrap().count(204);
        series.requests(0).unwrap().count(503);
        // Listener 1 does not route to this cluster: a no-op.
        series.requests(1).unwrap().count(200);
        series.connect_error(ConnectReason::Refused);
        series.body_errors().count(BodyErrorReason::Timeout);
        series.response_seconds().record(0.25);
        series.touch();
    });
    let lines = lines(&recorder);
    let has = |line: &str| {
        assert!(
            lines.iter().any(|l| l == line),
            "{line} missing in {lines:#?}"
        )
    };
    has("sluicegate_requests_total{backend=127.0.0.1:9001,cluster=api,code=2xx,listener=web} 2");
    has("sluicegate_requests_total{backend=127.0.0.1:9001,cluster=api,code=5xx,listener=web} 1");
    has(
        "sluicegate_upstream_connect_errors_total{backend=127.0.0.1:9001,cluster=api,reason=refused} 1",
    );
    has("sluicegate_backend_response_seconds{backend=127.0.0.1:9001,cluster=api} 1 samples");
    has(
        "sluicegate_upstream_body_errors_total{backend=127.0.0.1:9001,cluster=api,reason=timeout} 1",
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with(names::REQUESTS_TOTAL))
            .count(),
        2,
        "a backend exports only the classes it counted (no zeros at fleet size): {lines:#?}"
    );
    let absent = |prefix: &str| {
        assert!(
            !lines.iter().any(|l| l.starts_with(prefix)),
            "{prefix} in {lines:#?}"
        )
    };
    absent(
        "sluicegate_upstream_connect_errors_total{backend=127.0.0.1:9001,cluster=api,reason=tls}",
    );
    absent("sluicegate_upstream_stale_retries_total");
    absent(
        "sluicegate_upstream_body_errors_total{backend=127.0.0.1:9001,cluster=api,reason=closed}",
    );
}

#[test]
fn an_idle_backend_registers_nothing() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        // A backend of its own in each test: the handles of a live key are shared
        // process-wide (`lazy.rs`), and the tests run in parallel.
        let series = BackendSeries::register("api", "127.0.0.1:9002", &[Some("web")]);
        series.renew_histograms();
        series.touch();
    });
    let lines = lines(&recorder);
    // Its two gauges are written at the scrape (`BackendGauges`), not registered.
    assert!(lines.is_empty(), "{lines:#?}");
}

#[test]
fn listener_series_split_by_route_outcome() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        let series = ListenerSeries::register("web", &[None, Some("api")]);
        series.requests(None).count(404);
        series.error(ErrorKind::NoRoute);
        series.requests(Some(1)).count(503);
        series.error(ErrorKind::NoBackend);
        // A cluster the listener does not route to falls back to the unrouted series.
        series.requests(Some(0)).count(404);
        series.duration(Some(1)).record(0.001);
        let active = series.connection_opened();
        let (received, sent) = series.bytes();
        received.increment(100);
        sent.increment(2000);
        let _still_open = series.connection_opened();
        let tunnel = series.tunnel_opened();
        let _tunnel_still_open = series.tunnel_opened();
        tunnel.decrement(1.0);
        active.decrement(1.0);
        series.touch();
    });
    let lines = lines(&recorder);
    let has = |line: &str| {
        assert!(
            lines.iter().any(|l| l == line),
            "{line} missing in {lines:#?}"
        )
    };
    has("sluicegate_requests_total{code=4xx,listener=web} 2");
    has("sluicegate_requests_total{cluster=api,code=5xx,listener=web} 1");
    has("sluicegate_errors_total{kind=no_route,listener=web} 1");
    has("sluicegate_errors_total{kind=no_backend,listener=web} 1");
    has("sluicegate_errors_total{kind=timeout,listener=web} 0");
    has("sluicegate_request_duration_seconds{cluster=api,listener=web} 1 samples");
    has("sluicegate_downstream_connections_total{listener=web} 2");
    has("sluicegate_downstream_connections_active{listener=web} 1");
    has("sluicegate_tunnels_total{listener=web} 2");
    has("sluicegate_tunnels_active{listener=web} 1");
    has("sluicegate_bytes_received_total{listener=web} 100");
    has("sluicegate_bytes_sent_total{listener=web} 2000");
}

/// Counts every `increment` call per counter, zero included: a touch is an
/// `increment(0)`, which keeps a series alive in the Prometheus exporter.
#[derive(Default)]
struct CallRecorder(std::sync::Mutex<Vec<(String, std::sync::Arc<Calls>)>>);

#[derive(Default)]
struct Calls(std::sync::atomic::AtomicU64);

impl metrics::CounterFn for Calls {
    fn increment(&self, _: u64) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn absolute(&self, _: u64) {}
}

impl metrics::Recorder for CallRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        let calls = std::sync::Arc::new(Calls::default());
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        self.0.lock().unwrap().push((name, calls.clone()));
        metrics::Counter::from_arc(calls)
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

#[test]
fn a_touch_reaches_every_counter_a_backend_registered() {
    let recorder = CallRecorder::default();
    metrics::with_local_recorder(&recorder, || {
        // Its own backend, as in `an_idle_backend_registers_nothing`.
        let series = BackendSeries::register("api", "127.0.0.1:9003", &[Some("web")]);
        series.requests(0).unwrap().count(200);
        series.connect_error(ConnectReason::Refused);
        series.body_errors().count(BodyErrorReason::Closed);
        series.stale_retry();
        series.queued().increment(1);
        series.queue_overflow(true);
        series.queue_overflow(false);
        series.touch();
    });
    let calls = recorder.0.lock().unwrap();
    assert!(
        calls.len() >= 7,
        "{:?}",
        calls.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for (name, calls) in calls.iter() {
        // One count, then the touch.
        let n = calls.0.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(n, 2, "{name} was not touched");
    }
}

#[test]
fn layer_4_sessions_count_by_end_and_reason_and_time_their_length() {
    let recorder = DebuggingRecorder::new();
    metrics::with_local_recorder(&recorder, || {
        let series = L4ListenerSeries::register("db");
        series.ended(SessionEnd::IdleTimeout, std::time::Duration::from_secs(90));
        series.ended(SessionEnd::Closed, std::time::Duration::from_millis(5));
        series
            .clone()
            .ended(SessionEnd::Closed, std::time::Duration::from_secs(1));
        series.refused(L4Refusal::NoRoute);
    });
    let lines = lines(&recorder);
    for line in [
        "sluicegate_l4_sessions_total{end=closed,listener=db} 2",
        "sluicegate_l4_sessions_total{end=idle_timeout,listener=db} 1",
        "sluicegate_l4_refused_total{listener=db,reason=no_route} 1",
        "sluicegate_l4_session_duration_seconds{listener=db} 3 samples",
    ] {
        assert!(
            lines.iter().any(|l| l == line),
            "{line} missing in {lines:#?}"
        );
    }
    assert_eq!(
        names::L4_SESSION_DURATION_SECONDS,
        "sluicegate_l4_session_duration_seconds"
    );
}
