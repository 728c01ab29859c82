//! The reload task: every trigger (file watcher, SIGHUP, `POST /reload`) lands on one
//! channel read by one task, which reads → parses → validates → compiles against the
//! running snapshot and applies the result in one atomic swap. On any error every
//! error is logged with its YAML path, counted, kept for `/status`, and the running
//! config keeps serving; the next good save applies.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use sluicegate_config::Config;
use sluicegate_listener::ServeError;
use tokio::sync::{mpsc, oneshot};

use crate::state::State;
use crate::watch::FileWatch;

/// Why a reload was asked for.
#[derive(Debug)]
pub enum Trigger {
    /// The config file's directory changed: reload if the file's content did.
    File,
    /// SIGHUP: reload now, even if the file looks unchanged.
    Signal,
    /// `POST /reload`: reload now and answer with the outcome.
    Admin(oneshot::Sender<ReloadOutcome>),
}

impl Trigger {
    fn name(&self) -> &'static str {
        match self {
            Trigger::File => "file",
            Trigger::Signal => "signal",
            Trigger::Admin(_) => "admin",
        }
    }
}

/// What a reload did.
#[derive(Clone, Debug)]
pub enum ReloadOutcome {
    /// The new config serves.
    Applied {
        /// Its generation.
        generation: u64,
        /// What changed (`diff`), empty if nothing did.
        changes: Vec<String>,
    },
    /// The running config keeps serving.
    Rejected(Vec<ReloadError>),
}

/// One reason a reload was rejected.
#[derive(Clone, Debug)]
pub struct ReloadError {
    /// YAML path; empty for the file as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line, where known.
    pub line: Option<usize>,
}

/// One reload attempt, for `/status`.
#[derive(Clone, Debug)]
pub struct ReloadAttempt {
    /// When it ran.
    pub at: SystemTime,
    /// `file`, `signal` or `admin`.
    pub trigger: &'static str,
    /// What it did.
    pub outcome: ReloadOutcome,
}

/// The reload history `/status` shows.
#[derive(Debug)]
pub struct ReloadLog {
    /// When the process started serving.
    pub started: Instant,
    /// When the config being served was loaded (start or last applied reload).
    pub loaded_at: SystemTime,
    /// The last attempt since start.
    pub last: Option<ReloadAttempt>,
}

impl ReloadLog {
    /// The log of a process that loaded its config now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            loaded_at: SystemTime::now(),
            last: None,
        }
    }
}

/// Starts watching `path` and handling SIGHUP; `config` is the one being served.
/// Returns the channel `POST /reload` sends on. Runs until the process exits.
pub fn spawn(
    path: &Path,
    config: Config,
    state: Arc<State>,
) -> anyhow::Result<mpsc::Sender<Trigger>> {
    // Capacity 1: a trigger arriving while one is pending is already covered by it.
    let (triggers, received) = mpsc::channel(1);
    let watch = FileWatch::start(path, config.reload_debounce, triggers.clone())?;
    let text = std::fs::read_to_string(path).ok();
    let reloader = Reloader {
        path: path.to_path_buf(),
        config,
        state,
        last_text: text,
        missing_warned: false,
        watch,
    };
    tokio::spawn(reloader.run(received));
    tokio::spawn(forward_sighup(triggers.clone()));
    Ok(triggers)
}

async fn forward_sighup(triggers: mpsc::Sender<Trigger>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; the file watcher still reloads");
        return;
    };
    while hangups.recv().await.is_some() {
        let _ = triggers.send(Trigger::Signal).await;
    }
}

struct Reloader {
    path: PathBuf,
    /// The config being served.
    config: Config,
    state: Arc<State>,
    /// The file content last seen (applied or rejected), to skip unchanged saves.
    last_text: Option<String>,
    missing_warned: bool,
    watch: FileWatch,
}

fn error(path: impl Into<String>, message: impl Into<String>) -> ReloadError {
    ReloadError {
        path: path.into(),
        message: message.into(),
        line: None,
    }
}

impl Reloader {
    async fn run(mut self, mut triggers: mpsc::Receiver<Trigger>) {
        while let Some(trigger) = triggers.recv().await {
            let name = trigger.name();
            let (outcome, reply) = match trigger {
                Trigger::Admin(reply) => (self.reload(true).await, Some(reply)),
                Trigger::Signal => (self.reload(true).await, None),
                Trigger::File => (self.reload(false).await, None),
            };
            if let Some(outcome) = outcome {
                self.record(name, &outcome);
                if let Some(reply) = reply {
                    let _ = reply.send(outcome);
                }
            }
            self.watch.follow();
        }
    }

    /// Counts the attempt and keeps it for `/status`.
    fn record(&self, trigger: &'static str, outcome: &ReloadOutcome) {
        let applied = matches!(outcome, ReloadOutcome::Applied { .. });
        self.state.process.reloaded(applied);
        let mut log = self.state.reloads();
        let at = SystemTime::now();
        if applied {
            log.loaded_at = at;
        }
        log.last = Some(ReloadAttempt {
            at,
            trigger,
            outcome: outcome.clone(),
        });
    }

    /// Reloads; `forced` reloads even an unchanged file. `None` when there was nothing
    /// to do (unchanged, or missing mid-save on a file event).
    async fn reload(&mut self, forced: bool) -> Option<ReloadOutcome> {
        let shown = self.path.display().to_string();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound && !forced => {
                if !self.missing_warned {
                    tracing::warn!("{shown} is missing; the running config keeps serving");
                    self.missing_warned = true;
                }
                return None;
            }
            Err(e) => {
                tracing::error!("{shown}: cannot read: {e}; the running config keeps serving");
                return Some(ReloadOutcome::Rejected(vec![error(
                    "",
                    format!("cannot read {shown}: {e}"),
                )]));
            }
        };
        self.missing_warned = false;
        if !forced && self.last_text.as_deref() == Some(text.as_str()) {
            return None;
        }
        let started = Instant::now();
        let config = match sluicegate_config::parse(&text) {
            Ok(config) => config,
            Err(errors) => {
                for line in errors.lines() {
                    tracing::error!("reload rejected: {shown}: {line}");
                }
                tracing::error!("the running config keeps serving");
                self.last_text = Some(text);
                let list = errors
                    .0
                    .into_iter()
                    .map(|e| ReloadError {
                        path: e.path,
                        message: e.message,
                        line: e.location.map(|(line, _)| line),
                    })
                    .collect();
                return Some(ReloadOutcome::Rejected(list));
            }
        };
        let current = self.state.control.current();
        let snapshot = match sluicegate_runtime::compile(&config, Some(&current)) {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::error!("reload rejected: {shown}: {e}; the running config keeps serving");
                self.last_text = Some(text);
                return Some(ReloadOutcome::Rejected(vec![error("", e.to_string())]));
            }
        };
        let generation = snapshot.generation;
        let changes = sluicegate_config::diff(&self.config, &config);
        if let Err(e) = self.state.control.apply(snapshot).await {
            // Not remembered as seen: saving the same file again retries.
            tracing::error!("reload rejected: {e}; the running config keeps serving");
            let at = match &e {
                ServeError::Bind { listener, .. } => format!("listeners.{listener}.address"),
                ServeError::Stopped => String::new(),
            };
            return Some(ReloadOutcome::Rejected(vec![error(at, e.to_string())]));
        }
        if config.admin != self.config.admin {
            tracing::warn!("admin settings changed: they take effect at the next restart");
        }
        let summary = if changes.is_empty() {
            "no changes".to_owned()
        } else {
            changes.join(", ")
        };
        tracing::info!(
            "reload {generation} applied in {} ms: {summary}",
            started.elapsed().as_millis()
        );
        self.config = config;
        self.last_text = Some(text);
        Some(ReloadOutcome::Applied {
            generation,
            changes,
        })
    }
}
