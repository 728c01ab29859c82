//! The live config as HTTP forwarding reads it.

use crate::replay::RequestBody;

/// What one request reads: a snapshot and its matching upstream pools, which send
/// this crate's [`RequestBody`] (streamed, or buffered for a retry).
pub type Live = sluicegate_upstream::Live<RequestBody>;
