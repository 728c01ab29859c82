//! One layer-4 session, from the connection the listener hands over to the close of
//! both sides:
//!
//! 1. **Route**: the listener's table names the cluster (`tcp`: its one cluster;
//!    `tls_passthrough`: by the ClientHello's server name, else the default). No
//!    cluster: closed, counted `no_route`.
//! 2. **Connect** (`connect.rs`): the policy picks, a failed connect moves on to
//!    the next backend. None reached: closed, counted `no_backend` or
//!    `connect_failed`. The config is let go here: a session holds nothing of a
//!    snapshot, only its backend's in-flight count (carried across reloads), so a
//!    reload that keeps its listener leaves it running.
//! 3. **Copy**, in a task of its own (`running.rs`): the bytes read ahead (a
//!    ClientHello, what followed a PROXY header) go to the backend first, then both
//!    directions are copied untouched (`sluicegate_transport::CopySession`) until
//!    both sides close, the listener's `idle_timeout` passes without a byte, or
//!    `stop` fires (the listener was removed, or the process stops, and the drain
//!    time ran out).
//! 4. **Count**: the bytes both ways in the backend's series, how it ended and how
//!    long it lasted in the listener's, a line in the access log (`access.rs`) when
//!    it is on; then what held the connection open is let go. A session refused
//!    before a backend is counted (and logged) by its reason.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use sluicegate_metrics::{L4ListenerSeries, L4Refusal};
use sluicegate_runtime::Snapshot;
use sluicegate_transport::CopySession;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::access::AccessLine;
use crate::connect::{Unreached, connect};
use crate::running::{Running, Tally};

/// What the listener knows of an accepted layer-4 connection.
#[derive(Debug)]
pub struct Session {
    /// Its listener's name.
    pub listener: Arc<str>,
    /// The client: the peer, or the client its PROXY header named.
    pub client: SocketAddr,
    /// The address the client connected to (from the PROXY header, if any).
    pub local: SocketAddr,
    /// The server name of its ClientHello (`tls_passthrough`), if it sent one.
    pub sni: Option<String>,
    /// Bytes already read from the client, to be sent to the backend first.
    pub prefix: Bytes,
}

/// Forwards `client` as `session` of a listener of `snapshot`: once a backend is
/// reached, the session goes on in a task of its own until both sides close, its
/// idle timeout passes or `stop` resolves, holding `held` (what counts the
/// connection as open) until then. Returns when the session is spawned or refused.
pub async fn serve<S, F, H>(client: S, session: Session, snapshot: Arc<Snapshot>, stop: F, held: H)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Future<Output = ()> + Send + 'static,
    H: Send + 'static,
{
    let started = Instant::now();
    let Some(l4) = snapshot
        .listener(&session.listener)
        .and_then(|l| l.l4.as_ref())
    else {
        return;
    };
    let (series, idle) = (l4.series.clone(), l4.idle_timeout);
    let cluster = l4
        .routes
        .route(session.sni.as_deref())
        .and_then(|i| snapshot.clusters.get(i))
        .cloned();
    let mut access = snapshot.access_log.then(|| {
        Box::new(AccessLine {
            started,
            listener: session.listener.clone(),
            client: session.client,
            sni: session.sni.clone(),
            cluster: cluster.as_ref().map(|c| c.name.clone()),
        })
    });
    drop(snapshot);
    let Some(cluster) = cluster else {
        refused(&series, access.as_deref(), L4Refusal::NoRoute);
        let (peer, sni) = (session.client, session.sni.as_deref().unwrap_or("-"));
        tracing::debug!(%peer, listener = %session.listener, sni, "no route for the server name");
        return;
    };
    let connected = match connect(&cluster, (session.client, session.local)).await {
        Ok(connected) => connected,
        Err(why) => {
            refused(
                &series,
                access.as_deref(),
                match why {
                    Unreached::NoBackend => L4Refusal::NoBackend,
                    Unreached::ConnectFailed => L4Refusal::ConnectFailed,
                },
            );
            let peer = session.client;
            tracing::debug!(%peer, cluster = %cluster.name, "no backend reached: {why:?}");
            return;
        }
    };
    let copy = CopySession::new(client, connected.stream, session.prefix, idle, stop);
    let tally = Tally {
        since: Instant::now(),
        series,
        bytes: connected.bytes,
        client: session.client,
        backend: connected.backend,
        access: access.take(),
    };
    tokio::spawn(Running::new(copy, tally, (connected.held, held)));
}

/// Counts (and logs, with `access`) a session closed before a backend was reached.
fn refused(series: &L4ListenerSeries, access: Option<&AccessLine>, why: L4Refusal) {
    series.refused(why);
    if let Some(line) = access {
        line.write(why.label(), None, (0, 0));
    }
}
