//! The reload side of service discovery: the sources of the running config's
//! discovered clusters (`sluicegate_discovery::Sources`), and what becomes of each
//! answer, in one place for every source.
//!
//! - At start, [`Discovery::start`] runs every source and waits up to
//!   [`FIRST_ANSWERS`] for their first answers, so the first snapshot already holds
//!   the backends (Envoy warms its clusters before its listeners serve; nginx resolves
//!   at start). A source that has not answered by then starts empty (503 until it
//!   answers) and serves as soon as it does.
//! - Each answer goes to the reload core (`Reload::discovered`), which serves a new
//!   set, keeps the last good one (a failed lookup, an empty answer under
//!   `empty: keep_last`, a set the cluster cannot take) or drops an answer whose
//!   spec a reload replaced.
//! - Each outcome is counted in the cluster's `sluicegate_discovery_*` series, kept
//!   for `/status`, and logged: a new set always, a failure once when the source
//!   starts failing (and again when the reason changes), a recovery once.
//! - After each applied file reload, [`Discovery::reconcile`] starts, keeps or stops
//!   sources to match.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
use sluicegate_config::{Config, SourceSpec};
use sluicegate_core::ClusterName;
use sluicegate_discovery::{Answer, Sources, Update};
use sluicegate_listener::Control;
use sluicegate_metrics::DiscoveryResult;
use sluicegate_runtime::{Discovered, Reload};
use tokio::sync::mpsc::Receiver;

use crate::admin::status::unix_seconds;
use crate::state::State;

/// Longest wait at start for the first answers of the discovery sources: a DNS query's
/// timeout, an etcd connect's default. A source that answers later (a DNS server that
/// needs its retry, a slow etcd) serves as soon as it does; until then its cluster has
/// no backends.
pub const FIRST_ANSWERS: Duration = Duration::from_secs(5);

/// A discovered cluster as `/status` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct DiscoveryStatus {
    /// `dns` (A/AAAA), `dns_srv` or `etcd`.
    pub source: &'static str,
    /// What it asks: `api.internal:8080`, `_grpc._tcp.svc.internal`, an etcd prefix.
    pub target: String,
    /// What became of its last answer: `applied`, `unchanged`, `empty`, `failed`,
    /// `rejected`; `null` before the first.
    pub last_result: Option<&'static str>,
    /// Unix time (seconds) of its last answer.
    pub last_answer_at: Option<f64>,
    /// Unix time (seconds) of its last good answer (applied or unchanged).
    pub last_success_at: Option<f64>,
    /// Why its last answer was not served (failed, empty, rejected).
    pub error: Option<String>,
}

/// The running sources and the answers coming from them.
#[derive(Debug)]
pub struct Discovery {
    sources: Sources,
    updates: Receiver<Update>,
    /// Answers taken at start, to be counted and shown once the reload task runs.
    early: Vec<Update>,
}

impl Discovery {
    /// Runs the sources of `config` and fills its discovered clusters with the good
    /// answers that come within [`FIRST_ANSWERS`] (see the module docs).
    pub async fn start(config: &mut Config) -> Discovery {
        let (sender, updates) = sluicegate_discovery::channel();
        let mut sources = Sources::new(sender);
        sources.reconcile(config);
        let mut discovery = Discovery {
            sources,
            updates,
            early: Vec::new(),
        };
        let deadline = tokio::time::Instant::now() + FIRST_ANSWERS;
        // A source may answer twice before another answers once (a quick failure, then
        // its retry): the wait is for every cluster's first answer.
        let mut answered = BTreeSet::new();
        while answered.len() < discovery.sources.len() {
            let Ok(Some(update)) =
                tokio::time::timeout_at(deadline, discovery.updates.recv()).await
            else {
                break;
            };
            fill(config, &update);
            answered.insert(update.cluster.clone());
            discovery.early.push(update);
        }
        let late = discovery.sources.len() - answered.len();
        if late > 0 {
            tracing::warn!(
                "{late} discovery source(s) did not answer within {FIRST_ANSWERS:?}: their clusters start with no backends"
            );
        }
        discovery
    }

    /// The next answer: those taken at start first.
    pub async fn next(&mut self) -> Option<Update> {
        if !self.early.is_empty() {
            return Some(self.early.remove(0));
        }
        self.updates.recv().await
    }

    /// Runs the sources of `config` (after a reload applied it).
    pub fn reconcile(&mut self, config: &Config, state: &State) {
        self.sources.reconcile(config);
        let mut shown = state.discovery();
        let wanted: BTreeMap<String, (&'static str, String)> = config
            .clusters
            .iter()
            .filter_map(|c| {
                let source = &c.discovery.as_ref()?.source;
                Some((c.name.to_string(), (source.kind(), source.target())))
            })
            .collect();
        shown.retain(|name, s| wanted.get(name) == Some(&(s.source, s.target.clone())));
        for (name, (source, target)) in wanted {
            shown.entry(name).or_insert_with(|| DiscoveryStatus {
                source,
                target,
                last_result: None,
                last_answer_at: None,
                last_success_at: None,
                error: None,
            });
        }
    }

    /// Serves `update` through `core`, then counts, shows and logs what became of it.
    pub async fn handle(&self, core: &mut Reload<Control>, state: &State, mut update: Update) {
        // An answer of a source a reload replaced (still queued when its task was
        // stopped) says nothing about the running one, failures included.
        if core.discovering(&update.cluster, &update.spec).is_none() {
            return;
        }
        let answer = std::mem::replace(&mut update.answer, Answer::Found(Vec::new()));
        let (result, error) = match answer {
            Answer::Failed(why) => (
                DiscoveryResult::Failed,
                Some(format!("lookup failed: {why}")),
            ),
            Answer::Found(set) => match core.discovered(&update.cluster, &update.spec, set).await {
                Ok(Discovered::Stale) => return,
                Ok(Discovered::Applied {
                    generation,
                    changes,
                }) => {
                    let changes = changes.join(", ");
                    tracing::info!(cluster = %update.cluster, "discovery: {changes} (generation {generation})");
                    (DiscoveryResult::Applied, None)
                }
                Ok(Discovered::Unchanged) => (DiscoveryResult::Unchanged, None),
                Ok(Discovered::KeptLast) => {
                    let why = "the answer names no backends (empty: keep_last)";
                    (DiscoveryResult::Empty, Some(why.to_owned()))
                }
                Err(rejection) => {
                    let why = rejection.errors.first().map(|e| e.message.clone());
                    (DiscoveryResult::Rejected, why)
                }
            },
        };
        self.record(state, &update, result, error);
    }

    /// Counts, shows and logs one outcome.
    fn record(
        &self,
        state: &State,
        update: &Update,
        result: DiscoveryResult,
        error: Option<String>,
    ) {
        let snapshot = state.control.current();
        let cluster = snapshot.clusters.iter().find(|c| c.name == update.cluster);
        let served = cluster.map_or(0, |c| c.backends.len());
        let at = unix_seconds(update.at);
        let mut shown = state.discovery();
        let Some(status) = shown.get_mut(update.cluster.as_str()) else {
            return;
        };
        // The first answer, filled in at start, is this source's set being applied.
        let result = match (result, status.last_result) {
            (DiscoveryResult::Unchanged, None) => DiscoveryResult::Applied,
            _ => result,
        };
        if let Some(series) = cluster.and_then(|c| c.discovery_series.as_ref()) {
            series.answered(result, served, at);
        }
        log_change(
            &update.cluster,
            &update.spec.source,
            status,
            result,
            error.as_deref(),
            served,
        );
        status.last_result = Some(result.name());
        status.last_answer_at = Some(at);
        if result.good() {
            status.last_success_at = Some(at);
        }
        status.error = error;
    }
}

/// Logs a source that starts failing (or fails otherwise) and one that recovers.
fn log_change(
    cluster: &ClusterName,
    source: &SourceSpec,
    before: &DiscoveryStatus,
    result: DiscoveryResult,
    error: Option<&str>,
    served: usize,
) {
    let (kind, target) = (source.kind(), source.target());
    match error {
        Some(why) if before.error.as_deref() != Some(why) => tracing::warn!(
            %cluster,
            "discovery {kind} {target}: {why}; the last good set ({served} backends) keeps serving"
        ),
        None if before.error.is_some() && result.good() => tracing::info!(
            %cluster,
            "discovery {kind} {target} answers again: {served} backends"
        ),
        _ => {}
    }
}

/// Puts a good first answer's set into `config` before its first snapshot.
fn fill(config: &mut Config, update: &Update) {
    let Answer::Found(set) = &update.answer else {
        return;
    };
    let Some(cluster) = config
        .clusters
        .iter_mut()
        .find(|c| c.name == update.cluster)
    else {
        return;
    };
    if set.is_empty() || cluster.discovery.as_ref() != Some(&update.spec) {
        return;
    }
    match sluicegate_config::discovered_set(cluster, set.clone()) {
        Ok(set) => cluster.backends = set,
        Err(why) => tracing::warn!(cluster = %update.cluster, "discovery: {why}"),
    }
}
