//! One etcd source's task, for as long as its cluster keeps its spec:
//!
//! 1. connect to a member (`client.rs`: the first that answers, authenticated);
//! 2. read the whole prefix;
//! 3. watch the prefix from the revision after that read; once etcd has created the
//!    watch, send the set read (the source is well only once it is watching); then
//!    each response with events updates the keys and sends the new set, and each
//!    progress response (asked for every 30 s) sends the set again, unchanged, so the
//!    reload side knows the source is alive;
//! 4. when the connection or the watch fails (the member died, the network went, it
//!    lost its leader), send the failure (the reload side keeps the last good set),
//!    wait ([`Backoff`]: 1 s doubling to [`RETRY_CEILING`], reset once a watch is
//!    created), and go to 1 on the next member;
//! 5. when etcd cancels the watch because its revision was compacted away, wait the
//!    same way and go to 1, reporting no failure.
//!
//! After a reconnect the prefix is read again (step 2) rather than the old watch
//! resumed from the last revision seen: a resumed watch gives no sign of having caught
//! up when nothing changed under the prefix meanwhile (etcd sends no event, and a
//! progress request is answered only by a watch already caught up), so the source
//! could not say it was well again; and the events it replays may have been compacted
//! away, which a fresh read covers too. The read is one request, bounded by the
//! cluster's limit on backends (`MAX_DISCOVERED`), and the set it gives replaces the
//! keys whole, so nothing deleted meanwhile stays.

use std::time::{Duration, SystemTime};

use sluicegate_config::{DiscoverySpec, EtcdSpec};
use sluicegate_core::ClusterName;
use tokio::sync::mpsc;
use tonic::Streaming;

use crate::backoff::Backoff;
use crate::etcd::client::EtcdClient;
use crate::etcd::proto::WatchResponse;
use crate::etcd::watched::Watched;
use crate::update::{Answer, Update};

/// The longest wait between two tries to reach etcd.
const RETRY_CEILING: Duration = Duration::from_secs(30);

/// How a session ended.
enum Ended {
    /// The reload side is gone: stop.
    Closed,
    /// The watched revision was compacted: read the prefix again.
    Compacted,
    /// Why the session failed.
    Failed(String),
}

/// Where a session sends its answers.
struct Sender<'a> {
    cluster: &'a ClusterName,
    spec: &'a DiscoverySpec,
    updates: &'a mpsc::Sender<Update>,
}

impl Sender<'_> {
    /// Sends `answer`; `false` when the reload side is gone.
    async fn send(&self, answer: Answer) -> bool {
        let update = Update {
            cluster: self.cluster.clone(),
            spec: self.spec.clone(),
            answer,
            at: SystemTime::now(),
        };
        self.updates.send(update).await.is_ok()
    }
}

/// Runs the etcd source `etcd` of `cluster` (under `spec`), sending on `updates`.
pub(crate) async fn run(
    cluster: ClusterName,
    spec: DiscoverySpec,
    etcd: EtcdSpec,
    updates: mpsc::Sender<Update>,
) {
    let sender = Sender {
        cluster: &cluster,
        spec: &spec,
        updates: &updates,
    };
    let mut watched = Watched::default();
    let mut backoff = Backoff::new(RETRY_CEILING);
    for start in 0.. {
        match session(&etcd, start, &mut watched, &mut backoff, &sender).await {
            Ended::Closed => return,
            Ended::Compacted => {
                let prefix = &etcd.prefix;
                tracing::info!(%cluster, "discovery etcd: the watched revision was compacted; reading {prefix} again");
            }
            Ended::Failed(why) => {
                if !sender.send(Answer::Failed(why)).await {
                    return;
                }
            }
        }
        tokio::time::sleep(backoff.wait()).await;
    }
}

/// One connection's life: read the prefix, then watch it until it fails.
async fn session(
    etcd: &EtcdSpec,
    start: usize,
    watched: &mut Watched,
    backoff: &mut Backoff,
    sender: &Sender<'_>,
) -> Ended {
    let prefix = etcd.prefix.as_bytes();
    let mut client = match EtcdClient::connect(etcd, start).await {
        Ok(client) => client,
        Err(why) => return Ended::Failed(why),
    };
    let revision = match client.range(prefix).await {
        Ok((revision, kvs)) => {
            watched.reset(sender.cluster, kvs);
            revision
        }
        Err(why) => return Ended::Failed(why),
    };
    match client.watch(prefix, revision + 1).await {
        Ok(stream) => follow(stream, &client.member, watched, backoff, sender).await,
        Err(why) => Ended::Failed(why),
    }
}

/// Follows a watch: every response but a cancellation sends the set (see the
/// module docs), until the watch fails or the reload side is gone.
async fn follow(
    mut stream: Streaming<WatchResponse>,
    member: &str,
    watched: &mut Watched,
    backoff: &mut Backoff,
    sender: &Sender<'_>,
) -> Ended {
    loop {
        let response = match stream.message().await {
            Ok(Some(response)) => response,
            Ok(None) => return Ended::Failed(format!("watch at {member}: ended")),
            Err(s) => {
                let why = format!("watch at {member}: {} ({:?})", s.message(), s.code());
                return Ended::Failed(why);
            }
        };
        if response.compact_revision > 0 {
            return Ended::Compacted;
        }
        if response.canceled {
            let why = format!("watch at {member}: cancelled: {}", response.cancel_reason);
            return Ended::Failed(why);
        }
        if response.created {
            backoff.reset();
        }
        watched.apply(sender.cluster, response.events);
        if !sender.send(Answer::Found(watched.set())).await {
            return Ended::Closed;
        }
    }
}
