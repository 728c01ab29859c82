//! Watching a listener's certificate files, so a renewed certificate is served without
//! a config reload.
//!
//! # Lifecycle
//!
//! 1. **Start** ([`ServerTls::watch`]): a notify watcher (non-recursive) on every
//!    **directory** holding a pair's certificate or key, not on the files: editors save
//!    by renaming a new file over the old one, and cert-manager or the kubelet swap a
//!    `..data` symlink in that directory, so a watch on the old file's inode would
//!    never see the new one. A thread of its own (no tokio runtime needed) waits for
//!    events.
//! 2. **Events**: notify's thread filters them, keeping those that can change a file's
//!    bytes: creations, removals, renames, modifications and a writer's close, in a
//!    watched directory. Opens, reads, a reader's close and metadata changes are
//!    dropped, so the re-reads below never wake the watcher themselves. A kept event
//!    marks its directory dirty and wakes the thread.
//! 3. **Debounce**: the thread waits until no event came for [`QUIET`] (at the latest
//!    [`LONGEST`] after the first), so a burst (a write in pieces, a rename dance, a
//!    symlink swap and its clean-up) is read once, complete.
//! 4. **Re-read**: every pair with its certificate or key in a dirty directory is read
//!    again, both files together, and compared byte for byte with what is loaded; an
//!    unchanged pair is left alone.
//! 5. **Check**: a changed pair is checked as at load (PEM, certificate, key, key
//!    against certificate).
//! 6. **Swap or keep**: a valid pair replaces the loaded one in the resolver's set,
//!    from the next handshake on (open connections keep theirs): logged at info,
//!    counted `result="ok"`, the expiry gauge set. An invalid one is not served: the
//!    loaded pair stays, a warning names the error, counted `result="error"`. The
//!    watcher keeps going either way; the next change is read again.
//! 7. **Stop**: dropping the [`CertWatch`] stops notify's watcher, wakes the thread and
//!    waits for it to end (a re-read under way finishes first). The thread holds only
//!    a `Weak` to the `ServerTls`, so the watch never keeps a replaced config alive:
//!    once it is dropped the thread ends at its next wake-up.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{Event, RecommendedWatcher, RecursiveMode, Watcher};

use crate::server::ServerTls;

/// Quiet time that ends a burst of events: long enough to cover a rename dance or a
/// symlink swap and its clean-up, short enough that a renewed certificate is served
/// well within 2 s.
pub const QUIET: Duration = Duration::from_millis(150);

/// A burst that never pauses for [`QUIET`] is read at the latest this long after its
/// first event.
pub const LONGEST: Duration = Duration::from_millis(1000);

/// What wakes the watcher's thread.
enum Wake {
    /// Events in these watched directories.
    Changed(BTreeSet<PathBuf>),
    /// The [`CertWatch`] was dropped.
    Stop,
}

/// A running certificate watch (see the module docs); dropping it stops it.
#[derive(Debug)]
pub struct CertWatch {
    watcher: Option<RecommendedWatcher>,
    wake: Sender<Wake>,
    thread: Option<JoinHandle<()>>,
}

impl ServerTls {
    /// Starts watching the directories of every pair's files: a change is re-read
    /// after a short debounce and swapped in when valid (see the watcher's lifecycle in
    /// the `watch` module). The watch holds only a `Weak` to `self`; it stops when the
    /// returned [`CertWatch`] is dropped.
    pub fn watch(self: &Arc<Self>) -> Result<CertWatch, io::Error> {
        let pair_dirs = pair_dirs(self)?;
        let dirs: BTreeSet<PathBuf> = pair_dirs.iter().flatten().cloned().collect();
        let (wake, woken) = mpsc::channel();
        let mut watcher = notify_watcher(dirs.clone(), wake.clone())?;
        for dir in &dirs {
            watcher
                .watch(dir, RecursiveMode::NonRecursive)
                .map_err(|e| notify_error(&format!("cannot watch {}", dir.display()), e))?;
        }
        let tls = Arc::downgrade(self);
        let thread = std::thread::Builder::new()
            .name("sluicegate-tls-watch".to_owned())
            .spawn(move || run(&tls, &pair_dirs, &woken))?;
        Ok(CertWatch {
            watcher: Some(watcher),
            wake,
            thread: Some(thread),
        })
    }
}

impl Drop for CertWatch {
    fn drop(&mut self) {
        // No more events; then the thread ends at its next wake-up, which is this.
        drop(self.watcher.take());
        let _ = self.wake.send(Wake::Stop);
        if let Some(thread) = self.thread.take() {
            // A panicked thread has nothing left to stop.
            let _ = thread.join();
        }
    }
}

/// The directories of each pair's certificate and key, in the pairs' order, absolute
/// (symlinks kept as they are: the kubelet's `..data` swap happens in the directory
/// named).
fn pair_dirs(tls: &ServerTls) -> io::Result<Vec<[PathBuf; 2]>> {
    let pairs = tls.params.pairs.iter();
    pairs
        .map(|p| Ok([dir_of(&p.cert)?, dir_of(&p.key)?]))
        .collect()
}

/// The absolute directory holding `file`.
fn dir_of(file: &Path) -> io::Result<PathBuf> {
    let file = std::path::absolute(file)?;
    Ok(file.parent().map(Path::to_path_buf).unwrap_or(file))
}

fn notify_watcher(dirs: BTreeSet<PathBuf>, wake: Sender<Wake>) -> io::Result<RecommendedWatcher> {
    notify::recommended_watcher(move |event: notify::Result<Event>| {
        let changed = match event {
            Ok(event) => dirty(&event, &dirs),
            Err(error) => {
                // Events may be lost: read everything again.
                tracing::warn!("certificate watcher: {error} (still watching)");
                dirs.clone()
            }
        };
        if !changed.is_empty() {
            // Fails only once the thread ended: nobody is left to tell.
            let _ = wake.send(Wake::Changed(changed));
        }
    })
    .map_err(|e| notify_error("cannot start the certificate watcher", e))
}

/// The watched directories whose files `event` may have changed.
fn dirty(event: &Event, dirs: &BTreeSet<PathBuf>) -> BTreeSet<PathBuf> {
    if event.need_rescan() {
        return dirs.clone();
    }
    let changes = match event.kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Modify(_) => true,
        // A writer closing the file ends a modification; a reader's close does not.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    };
    if !changes {
        return BTreeSet::new();
    }
    let parents = event.paths.iter().filter_map(|path| path.parent());
    parents
        .filter(|dir| dirs.contains(*dir))
        .map(Path::to_path_buf)
        .collect()
}

/// The watcher's thread: debounce, then re-read the dirty directories' pairs; until
/// stopped or the `ServerTls` is gone.
fn run(tls: &Weak<ServerTls>, pair_dirs: &[[PathBuf; 2]], woken: &Receiver<Wake>) {
    while let Some(dirty) = next_burst(woken) {
        let Some(tls) = tls.upgrade() else {
            return;
        };
        let touched = |index: usize| {
            let mut dirs = pair_dirs.get(index).into_iter().flatten();
            dirs.any(|dir| dirty.contains(dir))
        };
        tls.reread(touched);
    }
}

/// The directories of the next burst of events, once it is quiet for [`QUIET`] (or
/// [`LONGEST`] passed); `None` when the watch stops.
fn next_burst(woken: &Receiver<Wake>) -> Option<BTreeSet<PathBuf>> {
    let Wake::Changed(mut dirty) = woken.recv().ok()? else {
        return None;
    };
    let latest = Instant::now() + LONGEST;
    loop {
        let wait = QUIET.min(latest.saturating_duration_since(Instant::now()));
        match woken.recv_timeout(wait) {
            Ok(Wake::Changed(more)) => dirty.extend(more),
            Ok(Wake::Stop) | Err(RecvTimeoutError::Disconnected) => return None,
            Err(RecvTimeoutError::Timeout) => return Some(dirty),
        }
    }
}

/// An I/O error saying `what`, keeping the kind of an underlying I/O error.
fn notify_error(what: &str, error: notify::Error) -> io::Error {
    let kind = match &error.kind {
        notify::ErrorKind::Io(io) => io.kind(),
        notify::ErrorKind::PathNotFound => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("{what}: {error}"))
}

#[cfg(test)]
mod tests {
    use notify::event::{CreateKind, DataChange, MetadataKind, RenameMode};

    use super::*;

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    fn watched() -> BTreeSet<PathBuf> {
        ["/certs", "/keys"].into_iter().map(PathBuf::from).collect()
    }

    fn dirs(list: &[&str]) -> BTreeSet<PathBuf> {
        list.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn changes_in_a_watched_directory_mark_it_dirty() {
        let kinds = [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Remove(notify::event::RemoveKind::File),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
        ];
        for kind in kinds {
            assert_eq!(
                dirty(&event(kind, "/certs/a.pem"), &watched()),
                dirs(&["/certs"]),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn reads_and_metadata_changes_are_ignored() {
        let kinds = [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Access(AccessKind::Read),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
            EventKind::Other,
        ];
        for kind in kinds {
            assert!(
                dirty(&event(kind, "/certs/a.pem"), &watched()).is_empty(),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn a_rename_across_directories_marks_both() {
        let rename = Event::new(EventKind::Modify(ModifyKind::Name(RenameMode::Both)))
            .add_path(PathBuf::from("/keys/a.key.tmp"))
            .add_path(PathBuf::from("/certs/a.key"));
        assert_eq!(dirty(&rename, &watched()), dirs(&["/certs", "/keys"]));
    }

    #[test]
    fn unwatched_directories_are_ignored_and_a_rescan_reads_all() {
        let kind = EventKind::Create(CreateKind::File);
        assert!(dirty(&event(kind, "/elsewhere/a.pem"), &watched()).is_empty());
        let rescan = Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan);
        assert_eq!(dirty(&rescan, &watched()), watched());
    }

    #[test]
    fn a_burst_is_read_once_after_it_goes_quiet() {
        let (wake, woken) = mpsc::channel();
        for dir in ["/certs", "/keys", "/certs"] {
            wake.send(Wake::Changed(dirs(&[dir]))).expect("send");
        }
        assert_eq!(next_burst(&woken), Some(dirs(&["/certs", "/keys"])));
        wake.send(Wake::Changed(dirs(&["/certs"]))).expect("send");
        wake.send(Wake::Stop).expect("send");
        assert_eq!(
            next_burst(&woken),
            None,
            "a stop ends the burst and the watch"
        );
        drop(wake);
        assert_eq!(next_burst(&woken), None, "so does the end of the channel");
    }
}
