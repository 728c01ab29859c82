//! What the previous snapshot hands to the next compile: clusters to reuse whole when
//! their inputs are unchanged (see [`crate::origin`]), and, for the clusters rebuilt,
//! the state of backends by key and of clusters by name.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sluicegate_config::ClusterSpec;
use sluicegate_core::BackendKey;
use sluicegate_health::HealthCell;

use crate::{Backend, Carried, Cluster, Ramp, Snapshot};

/// What the previous snapshot hands to the next one.
pub(crate) struct Previous<'a> {
    /// `None` on the first compile: nothing joins then, everything starts together.
    backends: Option<HashMap<&'a BackendKey, &'a Backend>>,
    /// Clusters by name.
    pub(crate) clusters: HashMap<&'a str, &'a Arc<Cluster>>,
}

impl<'a> Previous<'a> {
    pub(crate) fn of(previous: Option<&'a Snapshot>) -> Self {
        let clusters = previous.into_iter().flat_map(|s| s.clusters.iter());
        Self {
            backends: previous.map(|s| {
                s.clusters
                    .iter()
                    .flat_map(|c| c.backends.iter())
                    .map(|b| (&b.key, b))
                    .collect()
            }),
            clusters: clusters.map(|c| (c.name.as_str(), c)).collect(),
        }
    }

    /// The previous cluster of `spec`'s name, if it was built from the same inputs.
    pub(crate) fn unchanged(
        &self,
        spec: &ClusterSpec,
        listeners: &[Option<&str>],
    ) -> Option<Arc<Cluster>> {
        let old = self.clusters.get(spec.name.as_str())?;
        old.origin.matches(spec, listeners).then(|| Arc::clone(old))
    }

    /// The carried state of backend `key`; a backend that joins (new in this config,
    /// or no longer marked down) starts its slow-start ramp now.
    /// A backend new to the config starts `healthy` or waits for its checks.
    pub(crate) fn backend(
        &self,
        key: &BackendKey,
        down: bool,
        slow_start: Option<Duration>,
        healthy: bool,
    ) -> Carried {
        let fresh = || Carried {
            health: Arc::new(HealthCell::new(healthy)),
            ..Carried::default()
        };
        let Some(backends) = &self.backends else {
            return fresh();
        };
        let old = backends.get(key);
        let joins = old.is_none_or(|b| b.down) && !down;
        let ramp = match (slow_start, old) {
            (None, _) => None,
            (Some(window), _) if joins => Some(Arc::new(Ramp::starting_now(window))),
            (Some(_), Some(b)) => b.carried().ramp.clone().filter(|r| !r.is_done()),
            (Some(_), None) => None,
        };
        let Some(old) = old else {
            return Carried { ramp, ..fresh() };
        };
        let old = old.carried();
        Carried {
            in_flight: old.in_flight.clone(),
            ramp,
            health: old.health.clone(),
            responses: old.responses.clone(),
            failures: old.failures.clone(),
        }
    }
}
