//! Watching the config file: a debounced notify watcher on the file's **parent
//! directory** (and, for a symlinked path, on its target's directory too), so every
//! way of saving is seen: in-place writes, write-temp-then-rename (vim, VS Code,
//! `sed -i`), delete then create, and Kubernetes ConfigMap updates (a `..data` symlink
//! swapped atomically). Every burst of events becomes one [`Trigger::File`]; whether
//! the file really changed is decided by the reload task, which compares contents.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;

use crate::reload::Trigger;

/// A running watcher; it stops when dropped.
pub struct FileWatch {
    debouncer: Debouncer<RecommendedWatcher>,
    watched: Vec<PathBuf>,
}

impl FileWatch {
    /// Watches the directories of `path`, sending `Trigger::File` on `triggers`
    /// after `debounce` of quiet following any event there.
    pub fn start(
        path: &Path,
        debounce: Duration,
        triggers: mpsc::Sender<Trigger>,
    ) -> anyhow::Result<Self> {
        let debouncer = new_debouncer(debounce, move |result: DebounceEventResult| match result {
            // A full channel already holds a pending reload: this burst is covered.
            Ok(events) if !events.is_empty() => {
                let _ = triggers.try_send(Trigger::File);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!("config watcher: {error} (still watching)"),
        })
        .context("cannot start the config file watcher")?;
        let mut watch = Self {
            debouncer,
            watched: Vec::new(),
        };
        let parent = parent_dir(path);
        watch
            .debouncer
            .watcher()
            .watch(&parent, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {}", parent.display()))?;
        watch.watched.push(parent);
        watch.follow(path);
        Ok(watch)
    }

    /// Also watches the directory the config path currently resolves to (a symlinked
    /// path, a ConfigMap's `..data`); called after every reload, as the target moves.
    pub fn follow(&mut self, path: &Path) {
        let Ok(target) = std::fs::canonicalize(path) else {
            return;
        };
        let dir = parent_dir(&target);
        if self.watched.contains(&dir) {
            return;
        }
        match self
            .debouncer
            .watcher()
            .watch(&dir, RecursiveMode::NonRecursive)
        {
            Ok(()) => self.watched.push(dir),
            Err(error) => tracing::debug!("cannot watch {}: {error}", dir.display()),
        }
    }
}

/// The directory holding `path` (`.` for a bare file name), made absolute.
fn parent_dir(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&parent).unwrap_or(parent)
}
