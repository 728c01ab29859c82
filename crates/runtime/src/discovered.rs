//! The backend sets discovery sources found, as the reload core keeps them: each
//! discovered cluster's last good set, under the `discovery:` spec it came from.
//!
//! Every config the core applies (a new file, or the running one with one cluster's
//! set replaced) is first filled from here: a discovered cluster whose source stays
//! (`SourceSpec::same_source`: the same records of the same server, the same prefix
//! of the same members, whatever its `refresh`, `timeout` or `empty`) keeps the set
//! last found for it, so editing the file never empties a discovered cluster; a
//! changed source starts with no set until it answers. The kept set is checked
//! against the cluster as the file now writes it (a smaller Maglev table), and a
//! set that no longer fits rejects the reload.

use std::collections::BTreeMap;

use sluicegate_config::{BackendSpec, Config, DiscoverySpec};
use sluicegate_core::ClusterName;

/// What one answer of a discovery source did (see `Reload::discovered`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discovered {
    /// The set changed and is served.
    Applied {
        /// The generation that serves it.
        generation: u64,
        /// What changed (`diff`): backends added and removed.
        changes: Vec<String>,
    },
    /// The same set is served already: nothing was touched.
    Unchanged,
    /// The answer had no backends and the cluster keeps its last good set
    /// (`empty: keep_last`).
    KeptLast,
    /// The cluster or its `discovery:` spec is no longer in the running config (a
    /// reload changed it while the lookup ran): the answer is dropped, whatever it was.
    Stale,
}

/// Each discovered cluster's last good set, with the spec it was found under.
#[derive(Debug, Default)]
pub(crate) struct DiscoveredSets {
    sets: BTreeMap<ClusterName, (DiscoverySpec, Vec<BackendSpec>)>,
}

impl DiscoveredSets {
    /// The sets `config` serves: each discovered cluster's backends.
    pub(crate) fn of(config: &Config) -> Self {
        let sets = config.clusters.iter().filter_map(|c| {
            let spec = c.discovery.clone()?;
            Some((c.name.clone(), (spec, c.backends.clone())))
        });
        Self {
            sets: sets.collect(),
        }
    }

    /// Gives each discovered cluster of `config` the set its source found, or none (a
    /// new cluster, or a changed source, that has not answered yet). Returns, as
    /// `(YAML path, message)`, each kept set the cluster can no longer take.
    pub(crate) fn fill(&self, config: &mut Config) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        for cluster in &mut config.clusters {
            let Some(spec) = &cluster.discovery else {
                continue;
            };
            let kept = match self.sets.get(&cluster.name) {
                Some((found, set)) if found.source.same_source(&spec.source) => set.clone(),
                _ => Vec::new(),
            };
            cluster.backends = match sluicegate_config::discovered_set(cluster, kept) {
                Ok(set) => set,
                Err(message) => {
                    errors.push((format!("clusters.{}.discovery", cluster.name), message));
                    Vec::new()
                }
            };
        }
        errors
    }

    /// Sets `cluster`'s set; returns the one it replaces, for [`DiscoveredSets::restore`].
    pub(crate) fn replace(
        &mut self,
        cluster: &ClusterName,
        spec: &DiscoverySpec,
        set: Vec<BackendSpec>,
    ) -> Option<(DiscoverySpec, Vec<BackendSpec>)> {
        self.sets.insert(cluster.clone(), (spec.clone(), set))
    }

    /// Puts back what [`DiscoveredSets::replace`] returned, after the config with the
    /// new set was refused.
    pub(crate) fn restore(
        &mut self,
        cluster: &ClusterName,
        old: Option<(DiscoverySpec, Vec<BackendSpec>)>,
    ) {
        match old {
            Some(old) => {
                self.sets.insert(cluster.clone(), old);
            }
            None => {
                self.sets.remove(cluster);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::num::NonZeroU32;
    use std::sync::Arc;

    use super::*;
    use crate::Reload;
    use crate::test_target::start;

    fn yaml(name: &str, extra: &str) -> String {
        format!(
            "listeners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: api\n\
             clusters:\n  api:\n    {extra}\n    discovery:\n      dns: {{ name: {name}, port: 80 }}\n"
        )
    }

    fn set(addresses: &[&str]) -> Vec<BackendSpec> {
        let backend = |a: &&str| BackendSpec {
            address: a.parse().expect("an address"),
            weight: NonZeroU32::MIN,
            down: false,
            name: Some("api.internal:80".into()),
        };
        addresses.iter().map(backend).collect()
    }

    fn spec(config: &Config) -> DiscoverySpec {
        config.clusters[0]
            .discovery
            .clone()
            .expect("a discovered cluster")
    }

    fn served(core: &Reload<&crate::test_target::Target>) -> Vec<SocketAddr> {
        let snapshot = core.target().handle.load();
        snapshot.clusters[0]
            .backends
            .iter()
            .map(|b| b.key.address)
            .collect()
    }

    #[tokio::test]
    async fn a_set_is_served_in_address_order_and_an_equal_or_empty_one_touches_nothing() {
        let (target, config) = start(&yaml("api.internal", "connect_timeout: 1s"));
        let (name, spec) = (config.clusters[0].name.clone(), spec(&config));
        let mut core = Reload::new(&target, config);
        assert!(
            served(&core).is_empty(),
            "a cluster with no answer yet has no backends"
        );

        let answer = set(&["10.0.0.2:80", "10.0.0.1:80"]);
        let applied = core.discovered(&name, &spec, answer).await;
        let Ok(Discovered::Applied {
            generation,
            changes,
        }) = applied
        else {
            panic!("not applied: {applied:?}");
        };
        assert_eq!(changes, ["cluster api +2 backends"]);
        let want: Vec<SocketAddr> = ["10.0.0.1:80", "10.0.0.2:80"]
            .map(|a| a.parse().expect("ok"))
            .into();
        assert_eq!(served(&core), want);

        let same = set(&["10.0.0.1:80", "10.0.0.2:80"]);
        assert_eq!(
            core.discovered(&name, &spec, same).await.ok(),
            Some(Discovered::Unchanged)
        );
        assert_eq!(
            core.discovered(&name, &spec, Vec::new()).await.ok(),
            Some(Discovered::KeptLast)
        );
        assert_eq!(target.handle.load().generation, generation);
        assert_eq!(served(&core), want);
    }

    #[tokio::test]
    async fn a_backend_that_stays_keeps_its_state_and_a_file_reload_keeps_the_set() {
        let (target, config) = start(&yaml("api.internal", "connect_timeout: 1s"));
        let (name, spec) = (config.clusters[0].name.clone(), spec(&config));
        let mut core = Reload::new(&target, config);
        let first = set(&["10.0.0.1:80", "10.0.0.2:80"]);
        core.discovered(&name, &spec, first).await.expect("applied");
        let cell = Arc::clone(target.handle.load().clusters[0].backends[0].health());

        let next = set(&["10.0.0.1:80", "10.0.0.3:80"]);
        core.discovered(&name, &spec, next).await.expect("applied");
        let snapshot = target.handle.load();
        let kept = &snapshot.clusters[0].backends[0];
        assert!(Arc::ptr_eq(&cell, kept.health()), "10.0.0.1 lost its state");

        let edited = yaml("api.internal", "connect_timeout: 2s");
        core.text(&edited, "t").await.expect("the edit applies");
        let after: Vec<String> = served(&core).iter().map(ToString::to_string).collect();
        assert_eq!(
            after,
            ["10.0.0.1:80", "10.0.0.3:80"],
            "the edit emptied the cluster"
        );
        let snapshot = target.handle.load();
        assert!(Arc::ptr_eq(
            &cell,
            snapshot.clusters[0].backends[0].health()
        ));
    }

    #[tokio::test]
    async fn a_new_refresh_keeps_the_set_and_a_smaller_maglev_table_that_cannot_hold_it_is_refused()
    {
        let maglev = "policy: maglev\n    maglev: { table_size: 5 }";
        let (target, config) = start(&yaml("api.internal", maglev));
        let (name, spec) = (config.clusters[0].name.clone(), spec(&config));
        let mut core = Reload::new(&target, config);
        let three = set(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
        core.discovered(&name, &spec, three).await.expect("applied");

        let refreshed =
            yaml("api.internal", maglev).replace("port: 80 }", "port: 80, refresh: 5s }");
        core.text(&refreshed, "t")
            .await
            .expect("a new refresh applies");
        assert_eq!(served(&core).len(), 3, "a new refresh emptied the cluster");

        let smaller = refreshed.replace("table_size: 5", "table_size: 3");
        let Err(rejection) = core.text(&smaller, "t").await else {
            panic!("a table too small for the kept set applied");
        };
        assert_eq!(rejection.errors[0].path, "clusters.api.discovery");
        assert_eq!(served(&core).len(), 3);
    }

    #[tokio::test]
    async fn a_changed_source_starts_empty_and_the_old_one_answers_stale() {
        let (target, config) = start(&yaml("api.internal", "connect_timeout: 1s"));
        let (name, old) = (config.clusters[0].name.clone(), spec(&config));
        let mut core = Reload::new(&target, config);
        core.discovered(&name, &old, set(&["10.0.0.1:80"]))
            .await
            .expect("applied");

        core.text(&yaml("other.internal", "connect_timeout: 1s"), "t")
            .await
            .expect("applies");
        assert!(
            served(&core).is_empty(),
            "the old source's set outlived its spec"
        );
        let late = core.discovered(&name, &old, set(&["10.0.0.9:80"])).await;
        assert_eq!(late.ok(), Some(Discovered::Stale));
        assert!(served(&core).is_empty());
    }

    #[tokio::test]
    async fn empty_accept_empties_and_a_set_too_large_is_rejected_with_its_path() {
        let accept = yaml(
            "api.internal",
            "policy: maglev\n    maglev: { table_size: 3 }",
        ) + "      empty: accept\n";
        let (target, config) = start(&accept);
        let (name, spec) = (config.clusters[0].name.clone(), spec(&config));
        let mut core = Reload::new(&target, config);
        core.discovered(&name, &spec, set(&["10.0.0.1:80"]))
            .await
            .expect("applied");
        let emptied = core.discovered(&name, &spec, Vec::new()).await;
        assert!(
            matches!(emptied, Ok(Discovered::Applied { .. })),
            "{emptied:?}"
        );
        assert!(served(&core).is_empty());

        let three = set(&["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
        let Err(rejection) = core.discovered(&name, &spec, three).await else {
            panic!("a set too large for the table applied");
        };
        assert_eq!(rejection.errors[0].path, "clusters.api.discovery");
        assert!(served(&core).is_empty(), "a rejected set was served");
        let two = set(&["10.0.0.1:80", "10.0.0.2:80"]);
        let applied = core.discovered(&name, &spec, two).await;
        assert!(
            matches!(applied, Ok(Discovered::Applied { .. })),
            "{applied:?}"
        );
    }
}
