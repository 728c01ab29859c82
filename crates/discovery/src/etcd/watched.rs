//! What an etcd source knows of its prefix: each key's backend (a key whose value
//! is no backend is left out, and logged once per value).

use std::collections::BTreeMap;

use sluicegate_config::BackendSpec;
use sluicegate_core::ClusterName;

use crate::etcd::proto::{DELETE, Event, KeyValue};
use crate::etcd::value;

/// The prefix's keys as last seen.
#[derive(Debug, Default)]
pub(crate) struct Watched {
    /// Each key's backend, or why its value is none (kept to log it once).
    keys: BTreeMap<Vec<u8>, Result<BackendSpec, String>>,
}

impl Watched {
    /// The keys read whole, replacing what was known.
    pub(crate) fn reset(&mut self, cluster: &ClusterName, kvs: Vec<KeyValue>) {
        let old = std::mem::take(&mut self.keys);
        for kv in kvs {
            // A bad value already logged stays quiet when read again.
            if let Some(seen) = old.get(&kv.key) {
                self.keys.insert(kv.key.clone(), seen.clone());
            }
            self.put(cluster, kv);
        }
    }

    /// Applies a watch's `events`.
    pub(crate) fn apply(&mut self, cluster: &ClusterName, events: Vec<Event>) {
        for event in events {
            let Some(kv) = event.kv else { continue };
            if event.kind == DELETE {
                self.keys.remove(&kv.key);
            } else {
                self.put(cluster, kv);
            }
        }
    }

    fn put(&mut self, cluster: &ClusterName, kv: KeyValue) {
        let backend = value::backend(&kv.value);
        if let Err(why) = &backend {
            let unchanged = self
                .keys
                .get(&kv.key)
                .is_some_and(|b| b.as_ref().err() == Some(why));
            if !unchanged {
                let key = String::from_utf8_lossy(&kv.key);
                tracing::warn!(%cluster, "discovery etcd: key {key} is left out: {why}");
            }
        }
        self.keys.insert(kv.key, backend);
    }

    /// The backends of the keys, in key order.
    pub(crate) fn set(&self) -> Vec<BackendSpec> {
        self.keys
            .values()
            .filter_map(|b| b.as_ref().ok())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::proto::Event;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    fn addresses(w: &Watched) -> Vec<String> {
        w.set().iter().map(|b| b.address.to_string()).collect()
    }

    #[test]
    fn puts_and_deletes_follow_the_keys_and_bad_values_are_left_out() {
        let cluster = ClusterName::new("pay");
        let mut w = Watched::default();
        let first = vec![
            kv("/p/a", r#"{"address": "10.0.0.1:80"}"#),
            kv("/p/b", "garbage"),
        ];
        w.reset(&cluster, first);
        assert_eq!(addresses(&w), ["10.0.0.1:80"]);
        let put = |k, v| Event {
            kind: 0,
            kv: Some(kv(k, v)),
        };
        let delete = |k| Event {
            kind: DELETE,
            kv: Some(kv(k, "")),
        };
        let events = vec![
            put("/p/b", r#"{"address": "10.0.0.2:80", "weight": 3}"#),
            delete("/p/a"),
            put("/p/c", r#"{"address": "10.0.0.3:80"}"#),
        ];
        w.apply(&cluster, events);
        assert_eq!(addresses(&w), ["10.0.0.2:80", "10.0.0.3:80"]);
        assert_eq!(w.set()[0].weight.get(), 3);
        w.reset(&cluster, vec![kv("/p/z", r#"{"address": "10.0.0.9:80"}"#)]);
        assert_eq!(
            addresses(&w),
            ["10.0.0.9:80"],
            "a fresh read replaces what was known"
        );
    }
}
