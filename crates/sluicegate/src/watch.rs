//! Watching the config file. The notify watcher is on the file's **parent directory**
//! and on the directory of every symlink the path goes through and of its final target
//! (editors save by renaming a temporary file over it, Kubernetes swaps a `..data`
//! symlink), but only events that can change the file's bytes count:
//!
//! - events on the config path, on a symlink of its chain, or on its target; a log
//!   file or any other file in the same directory is ignored;
//! - modifications (and a writer's close), creations, moves and deletions; opens,
//!   reads, a reader's close and metadata changes are ignored, so the reload task's
//!   own reads never trigger a reload. (notify asks inotify for open events too and
//!   offers no mask: its thread sees them, drops them here, and nothing follows.)
//!
//! Counted events are debounced trailing: [`Trigger::File`] is sent once
//! `debounce` passed with no counted event (at the latest [`MAX_WAIT_FACTOR`] ×
//! `debounce` after the first one, so a file rewritten without a pause still
//! reloads). Whether the bytes changed is decided by the reload task.

use std::collections::{HashSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{Event, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::trigger::Trigger;

/// A burst of events that never pauses for `debounce` is reloaded at the latest this
/// many `debounce`s after its first event.
pub const MAX_WAIT_FACTOR: u32 = 10;

/// Symlinks followed before a chain is taken as a loop (as the kernel's `ELOOP`).
const MAX_LINKS: usize = 40;

/// The paths whose events count, shared with the watcher's event handler.
type Paths = Arc<Mutex<HashSet<PathBuf>>>;

/// A running watcher; it stops when dropped.
pub struct FileWatch {
    watcher: RecommendedWatcher,
    /// The config path, absolute (symlinks not resolved).
    config: PathBuf,
    /// The config path, its symlinks and its target.
    paths: Paths,
    /// The directories watched.
    watched: HashSet<PathBuf>,
}

impl FileWatch {
    /// Watches `path` (see the module docs), sending `Trigger::File` on `triggers`
    /// after `debounce` of quiet following the last event on it.
    pub fn start(
        path: &Path,
        debounce: Duration,
        triggers: mpsc::Sender<Trigger>,
    ) -> anyhow::Result<Self> {
        let wake = Arc::new(Notify::new());
        let paths: Paths = Arc::default();
        let (filter, woken) = (paths.clone(), wake.clone());
        let watcher =
            notify::recommended_watcher(move |event: notify::Result<Event>| match event {
                Ok(event) if counts(&event, &lock(&filter)) => woken.notify_one(),
                Ok(_) => {}
                Err(error) => tracing::warn!("config watcher: {error} (still watching)"),
            })
            .context("cannot start the config file watcher")?;
        tokio::spawn(debounce_events(wake, debounce, triggers));
        let config = parent_dir(path).join(path.file_name().unwrap_or(path.as_os_str()));
        let mut watch = Self {
            watcher,
            config,
            paths,
            watched: HashSet::new(),
        };
        let parent = parent_dir(&watch.config);
        watch
            .watcher
            .watch(&parent, RecursiveMode::NonRecursive)
            .with_context(|| format!("cannot watch {}", parent.display()))?;
        watch.watched.insert(parent);
        watch.follow();
        Ok(watch)
    }

    /// Re-follows the config path's symlink chain (a ConfigMap's `..data` moves at
    /// every update): counts events on its current links and target, watches their
    /// directories and stops watching the ones it left. Called after every reload.
    pub fn follow(&mut self) {
        let (links, target) = resolve(&self.config);
        let mut paths: HashSet<PathBuf> = links.into_iter().collect();
        paths.insert(self.config.clone());
        paths.insert(target);
        let home = parent_dir(&self.config);
        let dirs: HashSet<PathBuf> = paths.iter().map(|p| parent_dir(p)).collect();
        for dir in self.watched.difference(&dirs) {
            if *dir != home {
                // Fails when the directory is gone (and its watch with it): nothing to do.
                let _ = self.watcher.unwatch(dir);
            }
        }
        self.watched
            .retain(|dir| dirs.contains(dir) || *dir == home);
        for dir in dirs {
            if self.watched.contains(&dir) {
                continue;
            }
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(dir);
                }
                Err(error) => tracing::debug!("cannot watch {}: {error}", dir.display()),
            }
        }
        *lock(&self.paths) = paths;
    }
}

fn lock(paths: &Paths) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
    paths.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `event` can have changed the bytes behind one of `paths`.
fn counts(event: &Event, paths: &HashSet<PathBuf>) -> bool {
    if event.need_rescan() {
        // The kernel queue overflowed: events may be lost, so look at the file.
        return true;
    }
    let changes = match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        // A writer closing the file ends a modification; a reader's close does not.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    };
    changes && event.paths.iter().any(|p| paths.contains(p))
}

/// Sends `Trigger::File` once `quiet` passed after the last wake-up of a burst (or
/// [`MAX_WAIT_FACTOR`] × `quiet` after its first). Ends when the reload task does.
async fn debounce_events(wake: Arc<Notify>, quiet: Duration, triggers: mpsc::Sender<Trigger>) {
    let longest = quiet.saturating_mul(MAX_WAIT_FACTOR);
    loop {
        wake.notified().await;
        let latest = Instant::now() + longest;
        loop {
            let until = (Instant::now() + quiet).min(latest);
            if tokio::time::timeout_at(until, wake.notified())
                .await
                .is_err()
            {
                break;
            }
        }
        if triggers.send(Trigger::File).await.is_err() {
            return;
        }
    }
}

/// Resolves `path` (absolute) as the kernel does: the symlinks met on the way, each
/// named inside its resolved directory, and the final target (which may not exist).
fn resolve(path: &Path) -> (Vec<PathBuf>, PathBuf) {
    let mut pending: VecDeque<PathBuf> = path.components().map(owned).collect();
    let mut current = PathBuf::from("/");
    let mut links = Vec::new();
    while let Some(part) = pending.pop_front() {
        match part.components().next() {
            Some(Component::RootDir) => current = PathBuf::from("/"),
            Some(Component::ParentDir) => {
                current.pop();
            }
            Some(Component::Normal(name)) => {
                let next = current.join(name);
                match std::fs::read_link(&next) {
                    Ok(target) if links.len() < MAX_LINKS => {
                        links.push(next);
                        for (i, part) in target.components().map(owned).enumerate() {
                            pending.insert(i, part);
                        }
                    }
                    _ => current = next,
                }
            }
            Some(Component::CurDir | Component::Prefix(_)) | None => {}
        }
    }
    (links, current)
}

fn owned(component: Component<'_>) -> PathBuf {
    PathBuf::from(component.as_os_str())
}

/// The directory holding `path` (`.` for a bare file name), made absolute.
fn parent_dir(path: &Path) -> PathBuf {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&parent).unwrap_or(parent)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn resolve_names_every_link_of_a_configmap_chain() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("..v1")).unwrap();
        std::fs::write(root.join("..v1/config.yaml"), "").unwrap();
        symlink("..v1", root.join("..data")).unwrap();
        symlink("..data/config.yaml", root.join("config.yaml")).unwrap();
        let (links, target) = resolve(&root.join("config.yaml"));
        assert_eq!(links, [root.join("config.yaml"), root.join("..data")]);
        assert_eq!(target, root.join("..v1/config.yaml"));
    }

    #[test]
    fn resolve_stops_at_a_loop_and_keeps_a_dangling_target() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        symlink("b", root.join("a")).unwrap();
        symlink("a", root.join("b")).unwrap();
        let (links, _) = resolve(&root.join("a"));
        assert_eq!(links.len(), MAX_LINKS);
        symlink("../gone/x.yaml", root.join("c")).unwrap();
        let (_, target) = resolve(&root.join("c"));
        assert_eq!(target, root.parent().unwrap().join("gone/x.yaml"));
    }

    #[test]
    fn only_changes_to_watched_paths_count() {
        use notify::event::{CreateKind, DataChange, MetadataKind};
        let config = PathBuf::from("/etc/sg/config.yaml");
        let paths: HashSet<PathBuf> = [config.clone()].into();
        let event = |kind, path: &str| Event::new(kind).add_path(PathBuf::from(path));
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Any));
        assert!(counts(&event(write, "/etc/sg/config.yaml"), &paths));
        assert!(!counts(&event(write, "/etc/sg/sluicegate.log"), &paths));
        let create = EventKind::Create(CreateKind::File);
        assert!(counts(&event(create, "/etc/sg/config.yaml"), &paths));
        let open = EventKind::Access(AccessKind::Open(AccessMode::Any));
        assert!(!counts(&event(open, "/etc/sg/config.yaml"), &paths));
        let read = EventKind::Access(AccessKind::Close(AccessMode::Read));
        assert!(!counts(&event(read, "/etc/sg/config.yaml"), &paths));
        let touch = EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any));
        assert!(!counts(&event(touch, "/etc/sg/config.yaml"), &paths));
    }
}
