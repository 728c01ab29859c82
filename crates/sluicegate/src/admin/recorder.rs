//! The process's `metrics` recorder: the Prometheus exporter's, except histograms,
//! which are kept as bucket counters ([`BucketHistograms`]: the exporter stores every
//! sample until it folds them, so its memory grows with the request rate; measured
//! there).

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use metrics_exporter_prometheus::PrometheusRecorder;
use sluicegate_metrics::BucketHistograms;

/// Counters and gauges to the exporter, histograms to `histograms`.
#[derive(Debug)]
pub struct Recorder {
    pub exporter: PrometheusRecorder,
    pub histograms: Arc<BucketHistograms>,
}

impl metrics::Recorder for Recorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.exporter.describe_counter(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.exporter.describe_gauge(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.histograms.describe(key.as_str(), &description);
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.exporter.register_counter(key, metadata)
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.exporter.register_gauge(key, metadata)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.histograms.register(key)
    }
}
