//! The reload core: config text → parse and validate → compare with the running config
//! → compile against the running snapshot → diff → apply, in one place for every input
//! (the binary's file watcher, SIGHUP and admin API, the testkit, and service
//! discovery, which hands in one cluster's new backend set: [`Reload::discovered`]).
//!
//! A discovered cluster's backends are not in the file: the core keeps each one's
//! last good set (`discovered.rs`) and fills it into every config it applies, so a
//! file reload keeps them, and a discovery update is a reload of the running config
//! that touches only that cluster: compiled against the running snapshot, its
//! backends that stay keep their state by `BackendKey`, those that leave stop being
//! picked at once while their requests finish on the snapshot they started with.
//!
//! A config equal to the running one applies nothing: no listener, pool, health
//! checker or series is rebuilt and the generation stays (Envoy Gateway drops
//! WebSockets on such updates; that must never happen here). Otherwise the new
//! snapshot reuses every unchanged cluster of the running one (see `compile`) and is
//! served through [`Apply`] in one atomic swap.
//!
//! Every rejection is logged here with the reason and "the running config keeps
//! serving", except a listener that cannot be bound: the caller logs that one with
//! its retry ([`Transient::Bind`]).
//!
//! Parsing looks backend host names up (blocking `getaddrinfo`, each lookup bounded by
//! `sluicegate_config::LOOKUP_TIMEOUT`), so it runs on tokio's blocking pool, never on
//! a worker thread that serves traffic.

use std::path::PathBuf;
use std::time::Instant;

use sluicegate_config::{BackendSpec, Config, DiscoverySpec, EmptyAnswer};
use sluicegate_core::ClusterName;

use crate::apply::{Apply, ApplyError};
use crate::discovered::{Discovered, DiscoveredSets};
use crate::reload_outcome::{Rejection, ReloadError, ReloadOutcome, Transient};

/// The running config and where its snapshots are served: every reload goes through
/// one of these, one at a time (`&mut self`).
#[derive(Debug)]
pub struct Reload<A> {
    target: A,
    running: Config,
    /// The directory relative file paths in a text are relative to (the config
    /// file's); `None`: as written.
    base_dir: Option<PathBuf>,
    /// Each discovered cluster's last good set.
    discovered: DiscoveredSets,
}

impl<A: Apply> Reload<A> {
    /// The core of a server that serves `running` through `target`; the backends of
    /// its discovered clusters are their sources' last good sets.
    pub fn new(target: A, running: Config) -> Self {
        Self {
            target,
            discovered: DiscoveredSets::of(&running),
            running,
            base_dir: None,
        }
    }

    /// The same core, reading relative file paths (certificates, keys, CAs) of every
    /// text relative to `dir`: the config file's directory (see `Config::rebase`).
    pub fn with_base_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.base_dir = Some(dir.into());
        self
    }

    /// The config being served.
    pub fn running(&self) -> &Config {
        &self.running
    }

    /// Where snapshots are served.
    pub fn target(&self) -> &A {
        &self.target
    }

    /// Parses and validates `text` on the blocking pool, then applies it as
    /// [`Reload::config`] does. `shown` names the text's source in the log lines.
    pub async fn text(&mut self, text: &str, shown: &str) -> Result<ReloadOutcome, Rejection> {
        let mut config = parse(text, shown).await?;
        if let Some(dir) = &self.base_dir {
            config.rebase(dir);
        }
        self.config(config, shown).await
    }

    /// The running cluster `cluster` if its backends come from `spec`; `None` when a
    /// reload removed the cluster or changed its `discovery:` (an answer under `spec`
    /// is then stale, whatever it says).
    pub fn discovering(
        &self,
        cluster: &ClusterName,
        spec: &DiscoverySpec,
    ) -> Option<&sluicegate_config::ClusterSpec> {
        self.running
            .clusters
            .iter()
            .find(|c| &c.name == cluster && c.discovery.as_ref() == Some(spec))
    }

    /// Serves `answer`, the backends `cluster`'s discovery source found under `spec`,
    /// as the running config with that cluster's set replaced (see the module docs).
    /// An empty answer keeps the last good set under `empty: keep_last`; a set that
    /// cannot serve in the cluster is rejected, naming `clusters.NAME.discovery`.
    pub async fn discovered(
        &mut self,
        cluster: &ClusterName,
        spec: &DiscoverySpec,
        answer: Vec<BackendSpec>,
    ) -> Result<Discovered, Rejection> {
        let Some(running) = self.discovering(cluster, spec) else {
            return Ok(Discovered::Stale);
        };
        if answer.is_empty() && spec.empty == EmptyAnswer::KeepLast {
            return Ok(Discovered::KeptLast);
        }
        let set = sluicegate_config::discovered_set(running, answer).map_err(|message| {
            let path = format!("clusters.{cluster}.discovery");
            Rejection::permanent(vec![ReloadError::new(path, message)])
        })?;
        if set == running.backends {
            return Ok(Discovered::Unchanged);
        }
        let old = self.discovered.replace(cluster, spec, set);
        let shown = format!("discovery of cluster {cluster}");
        match self.config(self.running.clone(), &shown).await {
            Ok(ReloadOutcome::Applied {
                generation,
                changes,
            }) => Ok(Discovered::Applied {
                generation,
                changes,
            }),
            Ok(ReloadOutcome::Rejected(errors)) => {
                self.discovered.restore(cluster, old);
                Err(Rejection::permanent(errors))
            }
            Err(rejection) => {
                self.discovered.restore(cluster, old);
                Err(rejection)
            }
        }
    }

    /// Compiles `next` against the running snapshot and serves it, unless it equals
    /// the running config (then nothing is touched and the generation stays). Its
    /// discovered clusters get their last good sets first.
    pub async fn config(
        &mut self,
        mut next: Config,
        shown: &str,
    ) -> Result<ReloadOutcome, Rejection> {
        let started = Instant::now();
        let unfit = self.discovered.fill(&mut next);
        if !unfit.is_empty() {
            return Err(rejected(shown, unfit));
        }
        let current = self.target.current();
        if next == self.running {
            let generation = current.generation;
            let swapped = current.refresh_certificates();
            if swapped > 0 {
                tracing::info!("reload: {swapped} certificate(s) re-read from disk");
            }
            tracing::info!("reload: no changes, generation {generation} keeps serving");
            return Ok(ReloadOutcome::Applied {
                generation,
                changes: Vec::new(),
            });
        }
        let snapshot =
            crate::compile(&next, Some(&current)).map_err(|e| rejected(shown, e.errors()))?;
        let generation = snapshot.generation;
        let changes = sluicegate_config::diff(&self.running, &next);
        self.target.apply(snapshot).await.map_err(apply_error)?;
        if next.admin != self.running.admin {
            tracing::warn!("admin settings changed: they take effect at the next restart");
        }
        let summary = if changes.is_empty() {
            "no changes".to_owned()
        } else {
            changes.join(", ")
        };
        let ms = started.elapsed().as_millis();
        tracing::info!("reload {generation} applied in {ms} ms: {summary}");
        log_resolutions(Some(&self.running), &next);
        self.discovered = DiscoveredSets::of(&next);
        self.running = next;
        Ok(ReloadOutcome::Applied {
            generation,
            changes,
        })
    }
}

/// Logs each `(YAML path, message)` of a config that cannot serve (`shown` names its
/// source), and the rejection they make.
fn rejected(shown: &str, errors: Vec<(String, String)>) -> Rejection {
    for (path, message) in &errors {
        tracing::error!("reload rejected: {shown}: {path}: {message}");
    }
    tracing::error!("the running config keeps serving");
    let errors = errors.into_iter().map(|(p, m)| ReloadError::new(p, m));
    Rejection::permanent(errors.collect())
}

/// Logs what each backend host name of `config` resolved to; after a reload from
/// `before`, only the lines that changed.
pub fn log_resolutions(before: Option<&Config>, config: &Config) {
    let old = before.map(Config::resolutions).unwrap_or_default();
    for line in config.resolutions() {
        if !old.contains(&line) {
            tracing::info!("{line}");
        }
    }
}

/// Parses and validates `text` (`shown` names its source) on the blocking pool: the
/// backend name lookups block. Every error is logged here.
async fn parse(text: &str, shown: &str) -> Result<Config, Rejection> {
    let owned = text.to_owned();
    let parsed = tokio::task::spawn_blocking(move || sluicegate_config::parse(&owned))
        .await
        .map_err(|e| {
            tracing::error!(
                "reload rejected: {shown}: the parse failed: {e}; the running config keeps serving"
            );
            Rejection::permanent(vec![ReloadError::new("", format!("the parse failed: {e}"))])
        })?;
    parsed.map_err(|errors| {
        for line in errors.lines() {
            tracing::error!("reload rejected: {shown}: {line}");
        }
        let transient = errors.transient().then_some(Transient::Lookup);
        if transient.is_none() {
            tracing::error!("the running config keeps serving");
        }
        let errors = errors.0.into_iter().map(|e| ReloadError {
            path: e.path,
            message: e.message,
            line: e.location.map(|(line, _)| line),
        });
        Rejection {
            errors: errors.collect(),
            transient,
        }
    })
}

/// A failed apply: a bind failure (the caller logs and retries it), or a server that
/// takes no new config (logged).
fn apply_error(e: ApplyError) -> Rejection {
    match e {
        ApplyError::Bind { listener, message } => Rejection {
            errors: vec![ReloadError::new(
                format!("listeners.{listener}.address"),
                message,
            )],
            transient: Some(Transient::Bind),
        },
        ApplyError::Refused(message) => {
            tracing::error!("reload rejected: {message}; the running config keeps serving");
            Rejection::permanent(vec![ReloadError::new("", message)])
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::test_target::start;

    fn yaml(listener: &str, backend: &str) -> String {
        format!(
            "listeners:\n  {listener}:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\nclusters:\n  app:\n    backends:\n      - address: {backend}\n"
        )
    }

    #[tokio::test]
    async fn an_equal_config_applies_nothing_and_a_changed_one_is_served() {
        let (target, config) = start(&yaml("main", "127.0.0.1:9001"));
        let generation = target.handle.load().generation;
        let mut core = Reload::new(&target, config);
        let same = core.text(&yaml("main", "127.0.0.1:9001"), "t").await;
        assert!(
            matches!(same, Ok(ReloadOutcome::Applied { generation: g, ref changes }) if g == generation && changes.is_empty())
        );
        assert_eq!(target.applies.load(Ordering::SeqCst), 0);

        let changed = core.text(&yaml("main", "127.0.0.1:9002"), "t").await;
        let Ok(ReloadOutcome::Applied {
            generation: g,
            changes,
        }) = changed
        else {
            panic!("not applied: {changed:?}");
        };
        assert!(g > generation, "the generation did not move");
        assert_eq!(
            changes,
            ["cluster app +1 backend", "cluster app -1 backend"]
        );
        assert_eq!(target.applies.load(Ordering::SeqCst), 1);
        assert_eq!(target.handle.load().generation, g);
        assert_eq!(core.running().clusters[0].backends[0].address.port(), 9002);
    }

    #[tokio::test]
    async fn a_rejection_names_its_path_and_keeps_the_running_config() {
        let (target, config) = start(&yaml("main", "127.0.0.1:9001"));
        let mut core = Reload::new(&target, config.clone());
        let invalid = core.text(&yaml("main", "127.0.0.1:99999"), "t").await;
        let Err(rejection) = invalid else {
            panic!("an invalid port applied");
        };
        assert_eq!(rejection.transient, None);
        assert!(
            rejection.errors.iter().any(|e| e.path.contains("backends")),
            "{rejection:?}"
        );

        let unbound = core.text(&yaml("taken", "127.0.0.1:9001"), "t").await;
        let Err(rejection) = unbound else {
            panic!("a listener that cannot be bound applied");
        };
        assert_eq!(rejection.transient, Some(Transient::Bind));
        assert_eq!(rejection.errors[0].path, "listeners.taken.address");
        assert_eq!(core.running(), &config);
        assert_eq!(target.applies.load(Ordering::SeqCst), 0);
    }
}
