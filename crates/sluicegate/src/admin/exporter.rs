//! The Prometheus exporter: installed as the global `metrics` recorder before the
//! first config is compiled, rendered on `GET /metrics`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;
use sluicegate_metrics::{BucketHistograms, names};

use crate::admin::recorder::Recorder;
use crate::admin::status::unix_seconds;
use crate::state::State;

/// A series not updated between two scrapes at least this far apart is dropped. Every
/// series of the live config is touched before each scrape, so only series of removed
/// listeners, clusters and backends, and histograms without a sample for this long,
/// go (see the `sluicegate-metrics` crate docs).
const SERIES_IDLE: Duration = Duration::from_secs(10);

/// The installed exporter.
#[derive(Debug)]
pub struct Exporter {
    handle: PrometheusHandle,
    /// Every histogram, written after the exporter's series.
    histograms: Arc<BucketHistograms>,
    /// Touch-then-render must not interleave: a series touched by one scrape and
    /// observed by another could look idle and be dropped.
    rendering: Mutex<()>,
    /// The standard `process_*` series (CPU seconds, resident memory, open file
    /// descriptors, start time), read from /proc at each scrape.
    process: metrics_process::Collector,
}

impl Exporter {
    /// Installs the exporter as the process's metrics recorder and describes every
    /// metric. Call once, before compiling the first config.
    pub fn install() -> anyhow::Result<Self> {
        let exporter = PrometheusBuilder::new()
            .idle_timeout(MetricKindMask::ALL, Some(SERIES_IDLE))
            .build_recorder();
        let handle = exporter.handle();
        let histograms = BucketHistograms::new(&names::SECONDS_BUCKETS, SERIES_IDLE).with_bounds(
            names::L4_SESSION_DURATION_SECONDS,
            &names::SESSION_SECONDS_BUCKETS,
        );
        let histograms = Arc::new(histograms);
        let recorder = Recorder {
            exporter,
            histograms: histograms.clone(),
        };
        metrics::set_global_recorder(recorder)
            .map_err(|_| anyhow::anyhow!("a metrics recorder is already installed"))?;
        sluicegate_metrics::describe();
        let process = metrics_process::Collector::default();
        process.describe();
        Ok(Self {
            handle,
            histograms,
            rendering: Mutex::new(()),
            process,
        })
    }

    /// The Prometheus text exposition of every live series.
    pub fn render(&self, state: &State) -> String {
        let _one = self
            .rendering
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let snapshot = state.control.current();
        snapshot.touch_metrics();
        let loaded_at = unix_seconds(state.reloads().loaded_at);
        state.process.touch(snapshot.generation, loaded_at);
        self.process.collect();
        let mut text = self.handle.render();
        self.histograms.write_to(&mut text);
        // Rendering drops idle histograms: live ones get a fresh handle at once.
        snapshot.renew_histograms();
        snapshot.backend_gauges().write_to(&mut text);
        text
    }
}
