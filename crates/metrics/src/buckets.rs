//! Histograms kept as Prometheus keeps them: one counter per bucket and a sum,
//! updated in place by each sample, written as text at each scrape.
//!
//! Why not the exporter's histograms: `metrics-exporter-prometheus` stores every
//! sample in a lock-free bucket list and folds them into buckets only at a scrape or
//! an upkeep, so memory grows with the request rate between two of them. Measured at
//! `wrk -c 64` (benches/load.sh, 6 B, one core): peak RSS 22.5 MiB with the
//! exporter's histograms, 12.4 MiB with none, and 0.5 µs of the 14.9 µs of proxy CPU
//! per request went to recording (a sample pushed, a block allocated every 64, the
//! epoch collector freeing them). Here a sample is two relaxed atomic additions and
//! a compare-and-swap on the sum; memory is fixed per series.
//!
//! Series come and go like the exporter's: one is created by its first registration,
//! and one that got no sample between two writes at least [`BucketHistograms::new`]'s
//! `idle` apart is dropped from the exposition (see the crate docs: the data plane
//! renews its handles after every scrape, so the next sample registers it again).

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use metrics::{Histogram, HistogramFn, Key};

use crate::text::escape;

/// One histogram series: a counter per bound (samples ≤ it and above the bound
/// before it), one for samples above the last bound, and the sum of all samples.
#[derive(Debug)]
struct Buckets {
    bounds: &'static [f64],
    counts: Box<[AtomicU64]>,
    /// The sum's `f64` bits.
    sum: AtomicU64,
}

impl Buckets {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

impl HistogramFn for Buckets {
    fn record(&self, value: f64) {
        // `le` buckets: the first bound at or above the value.
        let at = self.bounds.partition_point(|bound| *bound < value);
        if let Some(count) = self.counts.get(at) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // Uncontended on one thread; a retry only when two threads add at once.
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }
}

/// A series with what its last write saw of it.
#[derive(Debug)]
struct Series {
    buckets: Arc<Buckets>,
    /// Its sample count at the last write, and since when it has not moved.
    seen: u64,
    still_since: Instant,
}

/// Every histogram series of the process, by key, and the HELP text of each name.
#[derive(Debug)]
pub struct BucketHistograms {
    bounds: &'static [f64],
    /// Names whose series have bounds of their own (a few: a list beats a map).
    named: Vec<(&'static str, &'static [f64])>,
    idle: Duration,
    series: Mutex<HashMap<Key, Series>>,
    help: Mutex<HashMap<String, String>>,
}

impl BucketHistograms {
    /// Histograms with buckets at `bounds` (ascending), whose series are dropped
    /// after `idle` without a sample.
    pub fn new(bounds: &'static [f64], idle: Duration) -> Self {
        Self {
            bounds,
            idle,
            named: Vec::new(),
            series: Mutex::new(HashMap::new()),
            help: Mutex::new(HashMap::new()),
        }
    }

    /// These histograms, with series named `name` bucketed at `bounds` (ascending)
    /// instead.
    #[must_use]
    pub fn with_bounds(mut self, name: &'static str, bounds: &'static [f64]) -> Self {
        self.named.push((name, bounds));
        self
    }

    /// The bounds of the series named `name`.
    fn bounds_of(&self, name: &str) -> &'static [f64] {
        self.named
            .iter()
            .find(|(named, _)| *named == name)
            .map_or(self.bounds, |(_, bounds)| bounds)
    }

    /// The handle of series `key`, created empty if it is not there.
    pub fn register(&self, key: &Key) -> Histogram {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = series.entry(key.clone()).or_insert_with(|| Series {
            buckets: Arc::new(Buckets::new(self.bounds_of(key.name()))),
            seen: 0,
            still_since: Instant::now(),
        });
        Histogram::from_arc(entry.buckets.clone())
    }

    /// Sets the HELP text of histogram `name`.
    pub fn describe(&self, name: &str, help: &str) {
        let mut texts = self.help.lock().unwrap_or_else(PoisonError::into_inner);
        texts.insert(name.to_owned(), help.to_owned());
    }

    /// Drops series idle for too long, then appends every other one to `out`, as
    /// Prometheus text: one family per name (HELP, TYPE, then its series sorted by
    /// labels), `_bucket` lines cumulative up to `le="+Inf"`, then `_sum` and `_count`.
    pub fn write_to(&self, out: &mut String) {
        self.write_at(out, Instant::now());
    }

    /// [`Self::write_to`] as at `now`.
    fn write_at(&self, out: &mut String, now: Instant) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.retain(|_, s| {
            let count = s.buckets.count();
            if count != s.seen {
                (s.seen, s.still_since) = (count, now);
            }
            now.duration_since(s.still_since) < self.idle
        });
        let mut written: Vec<(&str, String, &Buckets)> = series
            .iter()
            .filter(|(_, s)| s.seen > 0)
            .map(|(key, s)| (key.name(), labels(key), &*s.buckets))
            .collect();
        written.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let help = self.help.lock().unwrap_or_else(PoisonError::into_inner);
        let mut family = None;
        for (name, labels, buckets) in written {
            if family != Some(name) {
                family = Some(name);
                if !out.is_empty() && !out.ends_with("\n\n") {
                    out.push('\n');
                }
                if let Some(text) = help.get(name) {
                    let _ = writeln!(out, "# HELP {name} {text}");
                }
                let _ = writeln!(out, "# TYPE {name} histogram");
            }
            write_series(out, name, &labels, buckets);
        }
    }
}

/// The `_bucket`, `_sum` and `_count` lines of one series; `labels` is its label
/// list without braces (empty, or ending in a comma).
fn write_series(out: &mut String, name: &str, labels: &str, buckets: &Buckets) {
    let mut cumulative = 0;
    for (bound, count) in buckets.bounds.iter().zip(buckets.counts.iter()) {
        cumulative += count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {cumulative}");
    }
    let total = cumulative
        + buckets
            .counts
            .last()
            .map_or(0, |c| c.load(Ordering::Relaxed));
    let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {total}");
    let sum = f64::from_bits(buckets.sum.load(Ordering::Relaxed));
    let braced = labels.strip_suffix(',').map(|l| format!("{{{l}}}"));
    let braced = braced.as_deref().unwrap_or("");
    let _ = writeln!(out, "{name}_sum{braced} {sum}");
    let _ = writeln!(out, "{name}_count{braced} {total}");
}

/// `key`'s labels as `k="v",` pairs, values escaped.
fn labels(key: &Key) -> String {
    let mut text = String::new();
    for label in key.labels() {
        let _ = write!(text, "{}=\"{}\",", label.key(), escape(label.value()));
    }
    text
}

#[cfg(test)]
mod tests {
    use metrics::Label;

    use super::*;

    const BOUNDS: [f64; 3] = [0.1, 1.0, 2.5];

    fn key(labels: &[(&'static str, &str)]) -> Key {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, (*v).to_owned()))
            .collect();
        Key::from_parts("t_seconds", labels)
    }

    #[test]
    fn writes_cumulative_buckets_sum_and_count_per_series() {
        let histograms = BucketHistograms::new(&BOUNDS, Duration::from_secs(60));
        histograms.describe("t_seconds", "Test seconds.");
        let b = histograms.register(&key(&[("cluster", "b\"x")]));
        let a = histograms.register(&key(&[("cluster", "a")]));
        for value in [0.05, 0.1, 0.5, 3.0] {
            a.record(value);
        }
        b.record(1.0);
        let mut out = String::from("other 1\n");
        histograms.write_to(&mut out);
        let expected = "other 1\n\n\
            # HELP t_seconds Test seconds.\n\
            # TYPE t_seconds histogram\n\
            t_seconds_bucket{cluster=\"a\",le=\"0.1\"} 2\n\
            t_seconds_bucket{cluster=\"a\",le=\"1\"} 3\n\
            t_seconds_bucket{cluster=\"a\",le=\"2.5\"} 3\n\
            t_seconds_bucket{cluster=\"a\",le=\"+Inf\"} 4\n\
            t_seconds_sum{cluster=\"a\"} 3.65\n\
            t_seconds_count{cluster=\"a\"} 4\n\
            t_seconds_bucket{cluster=\"b\\\"x\",le=\"0.1\"} 0\n\
            t_seconds_bucket{cluster=\"b\\\"x\",le=\"1\"} 1\n\
            t_seconds_bucket{cluster=\"b\\\"x\",le=\"2.5\"} 1\n\
            t_seconds_bucket{cluster=\"b\\\"x\",le=\"+Inf\"} 1\n\
            t_seconds_sum{cluster=\"b\\\"x\"} 1\n\
            t_seconds_count{cluster=\"b\\\"x\"} 1\n";
        assert_eq!(out, expected);
    }

    #[test]
    fn a_series_without_labels_has_no_braces_on_sum_and_count() {
        let histograms = BucketHistograms::new(&BOUNDS, Duration::from_secs(60));
        histograms.register(&key(&[])).record(2.0);
        let mut out = String::new();
        histograms.write_to(&mut out);
        assert!(out.contains("t_seconds_bucket{le=\"2.5\"} 1\n"), "{out}");
        assert!(
            out.contains("\nt_seconds_sum 2\nt_seconds_count 1\n"),
            "{out}"
        );
        assert!(!out.contains("# HELP"), "no HELP was given: {out}");
    }

    #[test]
    fn a_series_registered_twice_is_one_series() {
        let histograms = BucketHistograms::new(&BOUNDS, Duration::from_secs(60));
        histograms.register(&key(&[("l", "x")])).record(0.5);
        histograms.register(&key(&[("l", "x")])).record(0.5);
        let mut out = String::new();
        histograms.write_to(&mut out);
        assert!(out.contains("t_seconds_count{l=\"x\"} 2\n"), "{out}");
        assert_eq!(out.matches("_count").count(), 1, "{out}");
    }

    #[test]
    fn series_without_samples_are_not_written() {
        let histograms = BucketHistograms::new(&BOUNDS, Duration::from_secs(60));
        let handle = histograms.register(&key(&[("l", "x")]));
        let mut out = String::new();
        histograms.write_to(&mut out);
        assert_eq!(out, "", "a series with no sample is not exported");
        handle.record(0.5);
        histograms.write_to(&mut out);
        assert!(out.contains("t_seconds_count{l=\"x\"} 1\n"), "{out}");
    }

    #[test]
    fn a_series_idle_between_writes_is_dropped_and_a_new_registration_starts_anew() {
        let idle = Duration::from_secs(10);
        let histograms = BucketHistograms::new(&BOUNDS, idle);
        let start = Instant::now();
        let old = histograms.register(&key(&[("l", "x")]));
        old.record(0.5);
        let mut out = String::new();
        histograms.write_at(&mut out, start);
        assert!(out.contains("t_seconds_count{l=\"x\"} 1\n"), "{out}");
        // A sample keeps it: still there a full `idle` after the first write.
        old.record(0.5);
        out.clear();
        histograms.write_at(&mut out, start + idle);
        assert!(out.contains("t_seconds_count{l=\"x\"} 2\n"), "{out}");
        // No sample since: gone once `idle` has passed.
        out.clear();
        histograms.write_at(&mut out, start + idle * 2);
        assert_eq!(out, "");
        old.record(0.5); // Into the dropped series: not exported.
        histograms.register(&key(&[("l", "x")])).record(0.5);
        out.clear();
        histograms.write_at(&mut out, start + idle * 2);
        assert!(out.contains("t_seconds_count{l=\"x\"} 1\n"), "{out}");
    }

    #[test]
    fn a_name_with_bounds_of_its_own_is_bucketed_at_them() {
        static LONG: [f64; 2] = [60.0, 3600.0];
        let histograms = BucketHistograms::new(&BOUNDS, Duration::from_secs(60))
            .with_bounds("long_seconds", &LONG);
        histograms
            .register(&Key::from_name("long_seconds"))
            .record(120.0);
        histograms.register(&key(&[])).record(120.0);
        let mut out = String::new();
        histograms.write_to(&mut out);
        assert!(out.contains("long_seconds_bucket{le=\"60\"} 0\n"), "{out}");
        assert!(
            out.contains("long_seconds_bucket{le=\"3600\"} 1\n"),
            "{out}"
        );
        assert!(!out.contains("long_seconds_bucket{le=\"2.5\"}"), "{out}");
        assert!(out.contains("t_seconds_bucket{le=\"2.5\"} 0\n"), "{out}");
        assert!(!out.contains("t_seconds_bucket{le=\"3600\"}"), "{out}");
    }
}
