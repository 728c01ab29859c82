//! A counter registered with the recorder at its first increment, so a series that
//! never counted anything is not exported.
//!
//! At fleet size this is what keeps `/metrics` small: 40,000 backends with ten
//! per-backend counters each are 400,000 lines of zeros if registered up front
//! (about 60 MB a scrape), and only the ones that ever moved when registered lazily.
//! The first increment pays one registry lookup; every later one is an atomic load
//! and the counter's own increment.
//!
//! A reload builds new series for the backends it keeps. A new handle for a key that
//! a live handle already has is that same handle ([`LazyCounter::new`] looks it up),
//! so a kept backend's counter stays registered and keeps its value, rather than
//! starting unregistered and expiring from the exposition.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use metrics::{Counter, Key, Level, Metadata};

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// A counter for `key`, registered when first incremented (or at once, when made
/// with [`LazyCounter::eager`]). Clones share the one series.
#[derive(Clone, Debug, Default)]
pub struct LazyCounter(Option<Arc<Inner>>);

#[derive(Debug)]
struct Inner {
    key: Key,
    handle: OnceLock<Counter>,
}

/// The live handles by key, so a new handle for a live key shares it. Dead entries
/// are swept when the map has doubled since the last sweep.
#[derive(Default)]
struct Live {
    handles: HashMap<Key, Weak<Inner>>,
    sweep_at: usize,
}

static LIVE: Mutex<Option<Live>> = Mutex::new(None);

impl LazyCounter {
    /// Registered at its first increment; the live handle of `key` if there is one.
    /// Built when a config is compiled, never on the request path.
    pub fn new(key: Key) -> Self {
        let Ok(mut guard) = LIVE.lock() else {
            return Self::fresh(key);
        };
        let live = guard.get_or_insert_with(Live::default);
        if let Some(inner) = live.handles.get(&key).and_then(Weak::upgrade) {
            return Self(Some(inner));
        }
        let counter = Self::fresh(key.clone());
        if let Some(inner) = &counter.0 {
            live.handles.insert(key, Arc::downgrade(inner));
        }
        if live.handles.len() >= live.sweep_at {
            live.handles.retain(|_, handle| handle.strong_count() > 0);
            live.sweep_at = (live.handles.len() * 2).max(1024);
        }
        counter
    }

    fn fresh(key: Key) -> Self {
        Self(Some(Arc::new(Inner {
            key,
            handle: OnceLock::new(),
        })))
    }

    /// Registered now: exported as 0 until it counts (for the few series a dashboard
    /// expects to see from the start: per listener, per cluster).
    pub fn eager(key: Key) -> Self {
        let counter = Self::new(key);
        if let Some(inner) = &counter.0 {
            inner.handle.get_or_init(|| register(&inner.key));
        }
        counter
    }

    /// Records nothing.
    pub const fn noop() -> Self {
        Self(None)
    }

    /// Adds `n`, registering the series first if this is its first increment.
    #[inline]
    pub fn increment(&self, n: u64) {
        if let Some(inner) = &self.0 {
            inner
                .handle
                .get_or_init(|| register(&inner.key))
                .increment(n);
        }
    }

    /// Keeps a registered series alive through the next scrape; an unregistered one
    /// stays unregistered.
    pub fn touch(&self) {
        if let Some(counter) = self.0.as_ref().and_then(|inner| inner.handle.get()) {
            counter.increment(0);
        }
    }
}

fn register(key: &Key) -> Counter {
    metrics::with_recorder(|recorder| recorder.register_counter(key, &METADATA))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    #[test]
    fn a_lazy_counter_is_registered_at_its_first_increment_only() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let lazy = LazyCounter::new(Key::from_name("lazy_total"));
            let eager = LazyCounter::eager(Key::from_name("eager_total"));
            lazy.touch();
            let names = |s: &metrics_util::debugging::Snapshotter| -> Vec<String> {
                s.snapshot()
                    .into_vec()
                    .into_iter()
                    .map(|(k, ..)| k.key().name().to_owned())
                    .collect()
            };
            assert_eq!(names(&snapshotter), ["eager_total"]);
            lazy.clone().increment(2);
            lazy.increment(1);
            eager.touch();
            let values: Vec<(String, DebugValue)> = snapshotter
                .snapshot()
                .into_vec()
                .into_iter()
                .map(|(k, _, _, v)| (k.key().name().to_owned(), v))
                .collect();
            assert!(
                values.contains(&("lazy_total".into(), DebugValue::Counter(3))),
                "{values:?}"
            );
        });
    }

    #[test]
    fn a_new_handle_for_a_live_key_is_the_live_one() {
        let recorder = DebuggingRecorder::new();
        metrics::with_local_recorder(&recorder, || {
            let old = LazyCounter::new(Key::from_name("kept_total"));
            old.increment(1);
            let new = LazyCounter::new(Key::from_name("kept_total"));
            assert!(
                new.0.as_ref().is_some_and(|n| n.handle.get().is_some()),
                "not registered"
            );
            drop(old);
            let other = LazyCounter::new(Key::from_name("other_total"));
            assert!(other.0.as_ref().is_some_and(|n| n.handle.get().is_none()));
        });
    }
}
