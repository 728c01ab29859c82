//! [`Live`]: what one request reads, a snapshot and the upstream pools built for it.

use std::sync::Arc;

use sluicegate_runtime::Snapshot;

use crate::pool::SendBody;
use crate::upstreams::Upstreams;

/// What one request reads: a snapshot and its matching upstream pools, sending
/// request bodies of type `B`.
#[derive(Debug)]
pub struct Live<B> {
    /// The compiled config.
    pub snapshot: Arc<Snapshot>,
    /// One pool per backend of `snapshot`, indexed like its clusters and backends.
    pub upstreams: Upstreams<B>,
}

impl<B: SendBody> Live<B> {
    /// `snapshot` with pools built for it, reusing those of `previous` for every
    /// backend that stayed with the same timeouts. Needs a tokio runtime (pools run
    /// reaper tasks).
    pub fn build(snapshot: Arc<Snapshot>, previous: Option<&Live<B>>) -> Self {
        let previous = previous.map(|p| (&*p.snapshot, &p.upstreams));
        let upstreams = Upstreams::build(&snapshot, previous);
        Self {
            snapshot,
            upstreams,
        }
    }
}
