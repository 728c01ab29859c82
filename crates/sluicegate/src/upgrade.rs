//! The zero-downtime binary upgrade: a new process takes the listening sockets of
//! the running one and serves on them, then the old one drains and exits. No
//! connection is refused: the sockets, with their accept queues, never close; for a
//! moment both processes accept from them.
//!
//! The lifecycle, for a config with `admin.upgrade_socket: PATH`:
//!
//! 1. A process that serves listens on PATH (mode 0600): bound at `PATH.<pid>` and
//!    renamed over PATH once it serves, so PATH always names a process that serves.
//! 2. `sluicegate run -c FILE --upgrade` loads FILE first: a config that does not
//!    load exits here, and the running process is never asked. Then it connects to
//!    its PATH and asks (`U`). The old process checks the peer is its own user (or
//!    root) and sends it every socket it accepts on: each listener's (one per worker)
//!    and the admin API's, over `SCM_RIGHTS` (`fd_passing.rs`).
//! 3. The new process binds its config, taking the sockets whose addresses its
//!    listeners and admin API are configured on (`sluicegate_listener::Inherited`);
//!    a socket it no longer configures is closed in it only. If anything fails here
//!    it exits non-zero, its connection closes, and the old process logs the
//!    abandoned upgrade and goes on serving as if nothing happened.
//! 4. Bound, the new process says take-over (`D`); the old one answers (`K`), stops
//!    accepting on its admin API and listeners (the sockets stay open in the new
//!    one, which accepts what waits in their queues), answers 503 on `/ready`, and
//!    drains as on SIGTERM: in-flight requests finish within its `drain_timeout`,
//!    then it exits 0. It sends systemd nothing: the new process is the main one.
//! 5. The new process renames its own upgrade socket over PATH, tells systemd it is
//!    the main process now (`MAINPID=`, `READY=1`) and serves. It can be upgraded in
//!    turn.
//!
//! One upgrade at a time: a second `--upgrade` started meanwhile waits in the
//! socket's queue. If the first is abandoned, the second is answered. If the first
//! takes over, the old process answers every later ask with moved (`M`) instead of
//! sockets, until it exits; the second then asks PATH again until it names the new
//! process (step 5), and takes over from that one. So two upgrades started together
//! both happen, one after the other, and the last one serves.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use sluicegate_listener::Control;
use tokio::sync::watch;

use crate::fd_passing;

/// The new process asks for the sockets.
const ASK: u8 = b'U';
/// The new process serves and takes over.
const TAKE_OVER: u8 = b'D';
/// The old process stops accepting and drains.
const TAKEN: u8 = b'K';
/// The old process was upgraded already: ask PATH again, for its successor.
const MOVED: u8 = b'M';

/// How long the old process waits for a new one between its ask and its take-over:
/// the new one loads, compiles and binds its config meanwhile, and waits up to 5 s
/// for its discovered clusters' first answers.
const TAKE_OVER_WAIT: Duration = Duration::from_secs(120);
/// How long each side waits for the other's answer to a step.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// How long a new process waits for the first answer: an upgrade ahead of it in the
/// socket's queue may hold the old process up to its take-over wait.
const FIRST_ANSWER_WAIT: Duration = TAKE_OVER_WAIT.saturating_add(ANSWER_WAIT);
/// How long a new process told moved asks PATH again until the successor published
/// its socket there: the successor publishes the moment it took over, so this is
/// slack for a busy machine.
const SUCCESSOR_WAIT: Duration = Duration::from_secs(10);
/// How often it asks meanwhile.
const SUCCESSOR_POLL: Duration = Duration::from_millis(50);

/// A process's upgrade socket, bound at its temporary path until published.
#[derive(Debug)]
pub struct UpgradeSocket {
    path: PathBuf,
    bound_at: PathBuf,
    listener: std::os::unix::net::UnixListener,
    /// Device and inode of the socket file, to tell whether PATH is still this one.
    identity: (u64, u64),
}

impl UpgradeSocket {
    /// Binds a socket for `path` at `path.<pid>`, readable by this user only.
    pub fn bind(path: &Path) -> anyhow::Result<Self> {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{}", std::process::id()));
        let bound_at = PathBuf::from(name);
        let context = || format!("admin.upgrade_socket: cannot bind {}", bound_at.display());
        // A file left at this path by an earlier process with the same pid.
        let _ = std::fs::remove_file(&bound_at);
        let listener = std::os::unix::net::UnixListener::bind(&bound_at).with_context(context)?;
        Self::owned(path, bound_at.clone(), listener).with_context(context)
    }

    fn owned(
        path: &Path,
        bound_at: PathBuf,
        listener: std::os::unix::net::UnixListener,
    ) -> std::io::Result<Self> {
        let cleanup = |e| {
            let _ = std::fs::remove_file(&bound_at);
            e
        };
        std::fs::set_permissions(&bound_at, std::fs::Permissions::from_mode(0o600))
            .map_err(cleanup)?;
        let metadata = std::fs::metadata(&bound_at).map_err(cleanup)?;
        listener.set_nonblocking(true).map_err(cleanup)?;
        Ok(Self {
            path: path.to_owned(),
            identity: (metadata.dev(), metadata.ino()),
            bound_at,
            listener,
        })
    }

    /// Renames the socket over its path: from now on upgrades ask this process.
    pub fn publish(&self) -> anyhow::Result<()> {
        std::fs::rename(&self.bound_at, &self.path).with_context(|| {
            let path = self.path.display();
            format!("admin.upgrade_socket: cannot rename the socket to {path}")
        })
    }

    /// Serves upgrades until one takes over; then `handing.handed` says so.
    pub fn serve(self, handing: Handing) -> anyhow::Result<Published> {
        let published = Published {
            path: self.path.clone(),
            identity: self.identity,
        };
        // A duplicate: this one is dropped, removing the temporary path (renamed
        // away by now) only.
        let listener = self
            .listener
            .try_clone()
            .and_then(tokio::net::UnixListener::from_std);
        let listener = listener.context("admin.upgrade_socket: cannot register the socket")?;
        tokio::spawn(serve(listener, Arc::new(handing)));
        Ok(published)
    }
}

impl Drop for UpgradeSocket {
    fn drop(&mut self) {
        // Unpublished, its temporary path names nothing that serves.
        let _ = std::fs::remove_file(&self.bound_at);
    }
}

/// The published upgrade socket's path, removed at exit unless a new process
/// published its own there meanwhile.
#[derive(Debug)]
pub struct Published {
    path: PathBuf,
    identity: (u64, u64),
}

impl Published {
    /// Removes the socket file if it is still this process's.
    pub fn remove(&self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| (m.dev(), m.ino()) == self.identity);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What the old process hands over, and how it learns it did.
#[derive(Debug)]
pub struct Handing {
    /// The listeners' sockets, read at each ask (a reload may have changed them).
    pub control: Control,
    /// Duplicates of the admin API's sockets.
    pub admin: Vec<TcpListener>,
    /// Set once a new process took over: the admin API stops accepting and the
    /// drain starts.
    pub handed: watch::Sender<bool>,
}

/// Answers one upgrade at a time until one takes over.
async fn serve(listener: tokio::net::UnixListener, handing: Arc<Handing>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream.into_std(),
            Err(e) => {
                tracing::warn!("upgrade socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handing_now = handing.clone();
        let answered = tokio::task::spawn_blocking(move || answer(stream?, &handing_now)).await;
        match answered {
            Ok(Ok(Some(pid))) => {
                tracing::info!("upgrade: process {pid} took over; draining");
                handing.handed.send_replace(true);
                return refer(listener).await;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!("upgrade abandoned ({e}); still serving"),
            Err(e) => tracing::error!("upgrade: the handover task failed ({e}); still serving"),
        }
    }
}

/// Once taken over, until the process exits: tells each later upgrade the sockets
/// moved to the successor (it asks PATH again), rather than closing it unanswered.
async fn refer(listener: tokio::net::UnixListener) {
    loop {
        match listener.accept().await {
            // An empty socket buffer takes one byte at once.
            Ok((stream, _)) => drop(stream.try_write(&[MOVED])),
            Err(e) => {
                tracing::warn!("upgrade socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Hands the sockets to the process on `stream` (steps 2 and 4 of the lifecycle);
/// the new process's pid once it took over, `None` when it asked nothing.
fn answer(stream: UnixStream, handing: &Handing) -> std::io::Result<Option<u32>> {
    stream.set_nonblocking(false)?;
    let peer = rustix::net::sockopt::socket_peercred(&stream)?;
    let me = rustix::process::geteuid();
    if peer.uid != me && !peer.uid.is_root() {
        tracing::warn!(
            "upgrade: refused process {} of user {}: only this user or root may take the sockets",
            peer.pid.as_raw_nonzero(),
            peer.uid.as_raw()
        );
        return Ok(None);
    }
    let pid = peer.pid.as_raw_nonzero().get().unsigned_abs();
    stream.set_read_timeout(Some(ANSWER_WAIT))?;
    if read_byte(&stream)? != Some(ASK) {
        return Ok(None);
    }
    let mut sockets = handing.control.handover()?;
    for admin in &handing.admin {
        sockets.push(admin.try_clone()?);
    }
    tracing::info!(
        "upgrade: handing {} socket(s) to process {pid}",
        sockets.len()
    );
    let fds: Vec<_> = sockets.iter().map(AsFd::as_fd).collect();
    fd_passing::send(&stream, &fds)?;
    drop(sockets);
    stream.set_read_timeout(Some(TAKE_OVER_WAIT))?;
    match read_byte(&stream)? {
        Some(TAKE_OVER) => {
            (&stream).write_all(&[TAKEN])?;
            Ok(Some(pid))
        }
        None => Err(std::io::Error::other(format!(
            "process {pid} closed before taking over"
        ))),
        Some(other) => Err(std::io::Error::other(format!(
            "process {pid} sent {other:#04x} instead of taking over"
        ))),
    }
}

/// The next byte, `None` at the end of the stream.
fn read_byte(mut stream: &UnixStream) -> std::io::Result<Option<u8>> {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte)? {
        0 => Ok(None),
        _ => Ok(Some(byte[0])),
    }
}

/// The new process's side: the connection it takes over through.
#[derive(Debug)]
pub struct Taken {
    stream: UnixStream,
}

/// Asks the process serving upgrades on `path` for its sockets (step 2): its
/// listening sockets, and the connection to take over through. Told moved, asks
/// again until `path` names the successor, for up to [`SUCCESSOR_WAIT`].
pub fn take(path: &Path) -> anyhow::Result<(Vec<TcpListener>, Taken)> {
    let shown = path.display();
    let stream = UnixStream::connect(path)
        .with_context(|| format!("--upgrade: no running sluicegate answers on {shown}"))?;
    let Some(taken) = ask(stream, path)? else {
        tracing::info!(
            "--upgrade: the process on {shown} was upgraded meanwhile; asking the new one"
        );
        return take_from_successor(path);
    };
    Ok(taken)
}

/// Asks PATH again until a process there hands its sockets.
fn take_from_successor(path: &Path) -> anyhow::Result<(Vec<TcpListener>, Taken)> {
    let deadline = std::time::Instant::now() + SUCCESSOR_WAIT;
    loop {
        std::thread::sleep(SUCCESSOR_POLL);
        // The old process may have exited and removed PATH before the successor
        // renamed its own socket there.
        if let Ok(stream) = UnixStream::connect(path)
            && let Some(taken) = ask(stream, path)?
        {
            return Ok(taken);
        }
        if std::time::Instant::now() >= deadline {
            bail!(
                "--upgrade: the process on {} was upgraded meanwhile, and no successor answered there within {SUCCESSOR_WAIT:?}",
                path.display()
            );
        }
    }
}

/// Asks the process on `stream` for its sockets; `None` when it says they moved.
fn ask(stream: UnixStream, path: &Path) -> anyhow::Result<Option<(Vec<TcpListener>, Taken)>> {
    let shown = path.display();
    stream.set_read_timeout(Some(FIRST_ANSWER_WAIT))?;
    (&stream)
        .write_all(&[ASK])
        .with_context(|| format!("--upgrade: cannot ask the process on {shown}"))?;
    // A peek: the first byte of sockets carries the first of them.
    let mut first = [0u8; 1];
    let peeked = rustix::net::recv(&stream, &mut first, rustix::net::RecvFlags::PEEK)
        .with_context(|| format!("--upgrade: the process on {shown} did not answer"))?;
    if peeked.0 == 1 && first[0] == MOVED {
        return Ok(None);
    }
    stream.set_read_timeout(Some(ANSWER_WAIT))?;
    let fds: Vec<OwnedFd> = fd_passing::receive(&stream)
        .with_context(|| format!("--upgrade: the process on {shown} sent no sockets"))?;
    let sockets = fds.into_iter().map(TcpListener::from).collect();
    Ok(Some((sockets, Taken { stream })))
}

impl Taken {
    /// Tells the old process to stop accepting and drain, and waits until it
    /// answers (step 4).
    pub async fn take_over(self) -> anyhow::Result<()> {
        let stream = self.stream;
        let answered = tokio::task::spawn_blocking(move || {
            (&stream).write_all(&[TAKE_OVER])?;
            read_byte(&stream)
        })
        .await
        .map_err(|e| anyhow!("--upgrade: the take-over task failed: {e}"))?;
        match answered.context("--upgrade: the running process did not answer")? {
            Some(TAKEN) => Ok(()),
            _ => bail!("--upgrade: the running process refused to hand over"),
        }
    }
}
