//! [`Control`]: applies a new snapshot to a running server, listener changes included.

use std::net::SocketAddr;
use std::sync::Arc;

use sluicegate_runtime::Snapshot;

use crate::bound::Bound;
use crate::error::ServeError;
use crate::shared::Shared;

/// Applies new snapshots to a [`crate::Server`], before or while it runs.
///
/// A listener is identified by its name and configured address (`127.0.0.1:0` stays
/// the same listener when re-applied: the configured address is compared, not the
/// port it resolved to). Applying a snapshot:
///
/// 1. binds every new listener first; if one cannot be bound, the sockets bound so far
///    are closed, nothing is published and the running config keeps serving;
/// 2. retires every removed listener (a changed address is a removal plus an
///    addition): its socket closes at once, so new connections are refused, and its
///    connections drain: the request in flight finishes, then the connection closes,
///    within the new snapshot's drain timeout, after which what is left is closed.
///    Requests on a retired listener's connections are routed with the last snapshot
///    that had the listener, so a request racing the reload is routed as before
///    instead of getting a 404;
/// 3. publishes the snapshot and rebuilds the upstream pools before returning, so a
///    request sent after `apply` returns sees the new config;
/// 4. hands the new sockets to the run loop, which starts their accept loops
///    (connections made meanwhile wait in the socket's backlog). Before
///    [`crate::Server::run`] starts they wait for it.
///
/// Unchanged listeners keep their socket and accept loop throughout.
///
/// A listener renamed on the same fixed address, or two listeners swapping
/// addresses, needs the address while its current owner still holds it: that apply
/// fails with [`ServeError::Bind`] and changes nothing (apply it in two steps).
///
/// Dropping an `apply` future before it completes changes nothing (only the binding
/// awaits). A snapshot published with `SnapshotHandle::publish` directly bypasses all
/// this: its routes take effect, but its listener changes are not bound.
#[derive(Clone, Debug)]
pub struct Control {
    pub(crate) shared: Arc<Shared>,
}

impl Control {
    /// Publishes `next`, binding the listeners it adds and retiring those it removes
    /// (see [`Control`] for the order and guarantees). Requests already running
    /// finish on the snapshot they started with. One apply runs at a time; others wait.
    ///
    /// On [`ServeError::Bind`] nothing changed. [`ServeError::Stopped`] means the
    /// server is shutting down.
    pub async fn apply(&self, next: Snapshot) -> Result<(), ServeError> {
        let shared = &self.shared;
        let _one = shared.applying.lock().await;
        let (added, removed) = self.plan(&next)?;
        let mut bound = Vec::with_capacity(added.len());
        for (name, address) in &added {
            // On failure, `bound` is dropped with the function: its sockets close.
            let inherited = &shared.inherited;
            bound.push(Bound::bind(
                name,
                *address,
                shared.workers.len(),
                inherited,
            )?);
        }
        let drain_timeout = next.drain_timeout;
        let retired = self.swap(next, bound, removed)?;
        if !added.is_empty() {
            shared.wake.notify_one();
        }
        for listener in retired {
            tokio::spawn(listener.drain(drain_timeout));
        }
        Ok(())
    }

    /// The listeners `next` adds (name and configured address), and how many of the
    /// bound ones it removes.
    fn plan(&self, next: &Snapshot) -> Result<(Vec<(String, SocketAddr)>, usize), ServeError> {
        let registry = self.shared.registry();
        if registry.stopped {
            return Err(ServeError::Stopped);
        }
        let added = next
            .listeners
            .iter()
            .filter(|l| !registry.listeners.iter().any(|b| b.is(l)))
            .map(|l| (l.name.to_string(), l.address))
            .collect();
        let removed = registry
            .listeners
            .iter()
            .filter(|b| !next.listeners.iter().any(|l| b.is(l)))
            .count();
        Ok((added, removed))
    }

    /// Under the registry's lock: retires the `removed` listeners `next` no longer
    /// has (pinning the config they finish with), publishes `next` with its pools,
    /// and registers the newly `bound` ones. Returns the retired listeners, to drain.
    fn swap(
        &self,
        next: Snapshot,
        bound: Vec<Bound>,
        removed: usize,
    ) -> Result<Vec<Bound>, ServeError> {
        let shared = &self.shared;
        let mut registry = shared.registry();
        if registry.stopped {
            return Err(ServeError::Stopped);
        }
        let mut retired = Vec::with_capacity(removed);
        if removed > 0 {
            // `live` still holds the snapshot with the retired listeners.
            let last = shared.live.load_full();
            let (gone, kept) = std::mem::take(&mut registry.listeners)
                .into_iter()
                .partition(|b: &Bound| !next.listeners.iter().any(|l| b.is(l)));
            registry.listeners = kept;
            for mut listener in gone {
                listener.retire(last.clone());
                tracing::info!(listener = %listener.name, address = %listener.local, "listener removed: draining its connections");
                retired.push(listener);
            }
        }
        shared.publish(next);
        for listener in &bound {
            tracing::info!(listener = %listener.name, address = %listener.local, "listener added");
        }
        registry.listeners.extend(bound);
        Ok(retired)
    }

    /// Duplicates of every listening socket of every listener that accepts (the
    /// same sockets: a connection waiting in one's queue is accepted by whichever
    /// process accepts first), for a new binary to serve on (`sluicegate run
    /// --upgrade`). Empty once the server is shutting down.
    pub fn handover(&self) -> std::io::Result<Vec<std::net::TcpListener>> {
        let registry = self.shared.registry();
        let sockets = registry.listeners.iter().flat_map(|b| &b.handover);
        sockets.map(std::net::TcpListener::try_clone).collect()
    }

    /// The snapshot being served.
    pub fn current(&self) -> Arc<Snapshot> {
        self.shared.handle.load()
    }

    /// The address listener `name` is bound to now (port 0 resolved), including
    /// listeners added by [`Control::apply`]; `None` if there is no such listener.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.shared
            .registry()
            .listeners
            .iter()
            .find(|b| &*b.name == name)
            .map(|b| b.local)
    }
}
