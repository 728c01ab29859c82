//! A metrics recorder of a test's own, read without resetting it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};
use sluicegate_metrics::names;
use sluicegate_tls::{ServerParams, ServerTls};

/// A metrics recorder of a test's own that keeps every value (the debugging
/// recorder's snapshot resets them): a `ServerTls` loaded through it records its
/// series there, from any thread (the handles are registered at load).
pub struct Metrics {
    registry: Arc<Registry<Key, AtomicStorage>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            registry: Arc::new(Registry::atomic()),
        }
    }

    /// `ServerTls::load(params)` with this recorder.
    pub fn load(&self, params: ServerParams) -> Arc<ServerTls> {
        let recorder = Recording(self.registry.clone());
        metrics::with_local_recorder(&recorder, || ServerTls::load(params)).expect("load")
    }

    fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
        let labels = labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, (*v).to_owned()));
        Key::from_parts(name, labels.collect::<Vec<_>>())
    }

    /// `sluicegate_tls_certificate_reloads_total{listener, result}`.
    pub fn reloads(&self, listener: &str, result: &str) -> u64 {
        let key = Self::key(
            names::TLS_CERTIFICATE_RELOADS_TOTAL,
            &[("listener", listener), ("result", result)],
        );
        let counter = self
            .registry
            .get_counter(&key)
            .expect("the reload counter is registered");
        counter.load(Ordering::SeqCst)
    }

    /// `sluicegate_tls_handshake_errors_total{listener, reason}`.
    pub fn handshake_errors(&self, listener: &str, reason: &str) -> u64 {
        let key = Self::key(
            names::TLS_HANDSHAKE_ERRORS_TOTAL,
            &[("listener", listener), ("reason", reason)],
        );
        let counter = self
            .registry
            .get_counter(&key)
            .expect("the handshake error counter is registered");
        counter.load(Ordering::SeqCst)
    }

    /// `sluicegate_tls_certificate_expiry_seconds{listener, certificate}`.
    pub fn expiry(&self, listener: &str, cert: &Path) -> f64 {
        let cert = cert.display().to_string();
        let labels = [("listener", listener), ("certificate", cert.as_str())];
        let key = Self::key(names::TLS_CERTIFICATE_EXPIRY_SECONDS, &labels);
        let gauge = self
            .registry
            .get_gauge(&key)
            .expect("the expiry gauge is registered");
        f64::from_bits(gauge.load(Ordering::SeqCst))
    }
}

struct Recording(Arc<Registry<Key, AtomicStorage>>);

impl Recorder for Recording {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.0.get_or_create_counter(key, Arc::clone))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.0.get_or_create_gauge(key, Arc::clone))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.0.get_or_create_histogram(key, Arc::clone))
    }
}
