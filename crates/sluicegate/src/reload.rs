//! The reload task: every trigger (file watcher, SIGHUP, `POST /reload`, the retry
//! timer) lands on one task, which reads the file and hands its text to the reload
//! core (`sluicegate_runtime::Reload`: parse → compile against the running snapshot →
//! diff → apply in one atomic swap). On any error every error is logged with its YAML
//! path, counted, kept for `/status`, and the running config keeps serving; the next
//! good save applies.
//!
//! The bytes of every attempt are remembered: a file event whose bytes are the ones
//! last applied or rejected does nothing, so a rejected file is tried again only when
//! it changes or on SIGHUP / `POST /reload`. The failures that can clear without a
//! change to the file, a listener that cannot bind and a host name that does not
//! resolve, are retried on a timer as well: [`FIRST_RETRY`], doubling up to
//! [`LAST_RETRY`], until the file applies or another attempt supersedes it.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use sluicegate_config::Config;
use sluicegate_listener::Control;
use sluicegate_runtime::{Rejection, Reload, ReloadError, ReloadOutcome, Transient};
use tokio::sync::mpsc;

use crate::discovery::Discovery;
use crate::reload_log::ReloadAttempt;
use crate::state::State;
use crate::trigger::Trigger;
use crate::watch::FileWatch;

/// The wait before retrying a reload whose listener could not bind, or whose host
/// name did not resolve …
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// … doubled after each failed retry, up to this.
pub const LAST_RETRY: Duration = Duration::from_secs(30);

/// Starts watching `path` and handling SIGHUP; `config` is the one being served.
/// Returns the channel `POST /reload` sends on. Runs until the process exits.
pub fn spawn(
    path: &Path,
    config: Config,
    state: Arc<State>,
    mut discovery: Discovery,
) -> anyhow::Result<mpsc::Sender<Trigger>> {
    // Capacity 1: a trigger arriving while one is pending is already covered by it.
    let (triggers, received) = mpsc::channel(1);
    let watch = FileWatch::start(path, config.reload_debounce, triggers.clone())?;
    let text = std::fs::read_to_string(path).ok();
    discovery.reconcile(&config, &state);
    let reloader = Reloader {
        path: path.to_path_buf(),
        core: Reload::new(state.control.clone(), config)
            .with_base_dir(crate::check::config_dir(path)),
        state,
        last_text: text,
        missing_warned: false,
        watch,
        retry: None,
        discovery,
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
    /// The config being served, and where its snapshots go.
    core: Reload<Control>,
    state: Arc<State>,
    /// The file content last seen (applied or rejected), to skip unchanged saves.
    last_text: Option<String>,
    missing_warned: bool,
    watch: FileWatch,
    /// The armed retry: when it fires, and the wait it was armed with.
    retry: Option<(tokio::time::Instant, Duration)>,
    /// The discovery sources of the running config, and their answers.
    discovery: Discovery,
}

fn error(message: impl Into<String>) -> ReloadError {
    ReloadError::new("", message)
}

impl Reloader {
    async fn run(mut self, mut triggers: mpsc::Receiver<Trigger>) {
        loop {
            // With no retry armed, its branch waits for ever.
            let retry = self.retry.map(|(at, _)| at);
            let trigger = tokio::select! {
                trigger = triggers.recv() => trigger,
                () = sleep_until(retry) => Some(Trigger::Retry),
                Some(update) = self.discovery.next() => {
                    self.discovery.handle(&mut self.core, &self.state, update).await;
                    continue;
                }
            };
            let Some(trigger) = trigger else { return };
            self.handle(trigger).await;
            self.watch.follow();
        }
    }

    /// One trigger: the attempt, its retry timer, its record and its answer.
    async fn handle(&mut self, trigger: Trigger) {
        let name = trigger.name();
        let retried = matches!(trigger, Trigger::Retry);
        let (forced, reply) = match trigger {
            Trigger::Admin(reply) => (true, Some(reply)),
            Trigger::Signal | Trigger::Retry => (true, None),
            Trigger::File => (false, None),
        };
        let outcome = match self.reload(forced).await {
            None => return,
            Some(Ok(applied)) => {
                self.retry = None;
                self.discovery.reconcile(self.core.running(), &self.state);
                applied
            }
            Some(Err(rejection)) => {
                self.retry = rejection.transient.map(|_| self.next_retry(retried));
                if let (Some((_, wait)), Some(why)) = (self.retry, rejection.transient) {
                    log_retry(why, &rejection.errors, wait);
                }
                ReloadOutcome::Rejected(rejection.errors)
            }
        };
        self.record(name, &outcome);
        if let Some(reply) = reply {
            let _ = reply.send(outcome);
        }
    }

    /// The retry after a transient failure: [`FIRST_RETRY`] after a new attempt, twice the
    /// last wait (at most [`LAST_RETRY`]) after a retry.
    fn next_retry(&self, retried: bool) -> (tokio::time::Instant, Duration) {
        let wait = match self.retry {
            Some((_, last)) if retried => last.saturating_mul(2).min(LAST_RETRY),
            _ => FIRST_RETRY,
        };
        (tokio::time::Instant::now() + wait, wait)
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

    /// Reloads; `forced` reloads even unchanged bytes. `None` when there was nothing
    /// to do (unchanged, or missing mid-save on a file event). The bytes are
    /// remembered whatever the outcome, once read.
    async fn reload(&mut self, forced: bool) -> Option<Result<ReloadOutcome, Rejection>> {
        let text = match self.read(forced)? {
            Ok(text) => text,
            Err(rejection) => return Some(Err(rejection)),
        };
        if !forced && self.last_text.as_deref() == Some(text.as_str()) {
            return None;
        }
        crate::notify::reloading();
        let result = self.apply(&text).await;
        crate::notify::reloaded(&match &result {
            Ok(ReloadOutcome::Applied { generation, .. }) => {
                format!("serving generation {generation}")
            }
            _ => "reload rejected: the running config keeps serving".to_owned(),
        });
        self.last_text = Some(text);
        Some(result)
    }

    /// The file's bytes; `None` for a file missing mid-save on a file event.
    fn read(&mut self, forced: bool) -> Option<Result<String, Rejection>> {
        let shown = self.path.display();
        match std::fs::read_to_string(&self.path) {
            Ok(text) => {
                self.missing_warned = false;
                Some(Ok(text))
            }
            Err(e) if e.kind() == ErrorKind::NotFound && !forced => {
                if !self.missing_warned {
                    tracing::warn!("{shown} is missing; the running config keeps serving");
                    self.missing_warned = true;
                }
                None
            }
            Err(e) => {
                tracing::error!("{shown}: cannot read: {e}; the running config keeps serving");
                let message = format!("cannot read {shown}: {e}");
                Some(Err(Rejection::permanent(vec![error(message)])))
            }
        }
    }

    /// Hands `text` to the reload core.
    async fn apply(&mut self, text: &str) -> Result<ReloadOutcome, Rejection> {
        let shown = self.path.display().to_string();
        self.core.text(text, &shown).await
    }
}

/// Sleeps until `at`; for ever when `None`.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Logs the retry armed after a transient failure.
fn log_retry(why: Transient, errors: &[ReloadError], wait: Duration) {
    let wait = wait.as_secs();
    match (why, errors.first()) {
        (Transient::Bind, Some(e)) => tracing::error!(
            "reload rejected: {}; the running config keeps serving; retrying in {wait} s",
            e.message
        ),
        (Transient::Bind, None) => {}
        (Transient::Lookup, _) => tracing::error!(
            "a backend host name did not resolve: the running config keeps serving; retrying in {wait} s"
        ),
    }
}
