//! The reload task: every trigger (file watcher, SIGHUP) lands on one channel read by
//! one task, which reads → parses → validates → compiles against the running snapshot
//! and applies the result in one atomic swap. On any error every error is logged with
//! its YAML path and the running config keeps serving; the next good save applies.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sluicegate_config::Config;
use sluicegate_listener::Control;
use tokio::sync::mpsc;

use crate::watch::FileWatch;

/// Why a reload was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The config file's directory changed: reload if the file's content did.
    File,
    /// SIGHUP: reload now, even if the file looks unchanged.
    Signal,
}

/// Starts watching `path` and handling SIGHUP; `config` is the one being served.
/// Runs until the process exits.
pub fn spawn(path: &Path, config: Config, control: Control) -> anyhow::Result<()> {
    // Capacity 1: a trigger arriving while one is pending is already covered by it.
    let (triggers, received) = mpsc::channel(1);
    let watch = FileWatch::start(path, config.reload_debounce, triggers.clone())?;
    let text = std::fs::read_to_string(path).ok();
    let reloader = Reloader {
        path: path.to_path_buf(),
        config,
        control,
        last_text: text,
        missing_warned: false,
        watch,
    };
    tokio::spawn(reloader.run(received));
    tokio::spawn(forward_sighup(triggers));
    Ok(())
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
    control: Control,
    /// The file content last seen (applied or rejected), to skip unchanged saves.
    last_text: Option<String>,
    missing_warned: bool,
    watch: FileWatch,
}

impl Reloader {
    async fn run(mut self, mut triggers: mpsc::Receiver<Trigger>) {
        while let Some(trigger) = triggers.recv().await {
            self.reload(trigger).await;
            self.watch.follow(&self.path);
        }
    }

    async fn reload(&mut self, trigger: Trigger) {
        let shown = self.path.display().to_string();
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                if !self.missing_warned {
                    tracing::warn!("{shown} is missing; the running config keeps serving");
                    self.missing_warned = true;
                }
                return;
            }
            Err(error) => {
                tracing::error!("{shown}: cannot read: {error}; the running config keeps serving");
                return;
            }
        };
        self.missing_warned = false;
        if trigger == Trigger::File && self.last_text.as_deref() == Some(text.as_str()) {
            return;
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
                return;
            }
        };
        let current = self.control.current();
        let snapshot = match sluicegate_runtime::compile(&config, Some(&current)) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::error!(
                    "reload rejected: {shown}: {error}; the running config keeps serving"
                );
                self.last_text = Some(text);
                return;
            }
        };
        let generation = snapshot.generation;
        let changes = sluicegate_config::diff(&self.config, &config);
        if let Err(error) = self.control.apply(snapshot).await {
            // Not remembered as seen: saving the same file again retries.
            tracing::error!("reload rejected: {error}; the running config keeps serving");
            return;
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
    }
}
