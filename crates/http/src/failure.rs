//! [`Failure`]: a failed attempt, classified where it failed ([`FailedAt`]): what the
//! client gets if nothing else is tried, and the request itself when none of it was
//! sent. What may follow (another backend, a resend, the answer) is decided from the
//! classification alone, in `forward.rs`; the status comes from the error, in
//! `status.rs`.

use sluicegate_core::{AfterSend, FailedAt};
use sluicegate_upstream::Outgoing;

use crate::replay::RequestBody;
use crate::status::ProxyError;

/// A failed attempt.
#[derive(Debug)]
pub(crate) struct Failure {
    /// What the client gets if nothing else is tried.
    pub(crate) error: ProxyError,
    /// Where it failed.
    pub(crate) at: FailedAt,
    /// The request, when none of it was sent ([`FailedAt::BeforeSend`]): it may go to
    /// another backend as it is.
    pub(crate) unsent: Option<Box<Outgoing<RequestBody>>>,
    /// A reused connection closed under the request before any answer (see
    /// `SendError::Stale`): not counted against the backend, and an idempotent request
    /// is sent once more on a fresh connection.
    pub(crate) stale: bool,
    /// The request, sent but handed back whole by the client that sent it (after an
    /// idle close): what that resend sends, with no copy kept beforehand.
    pub(crate) given_back: Option<Box<Outgoing<RequestBody>>>,
}

impl Failure {
    /// A failure of a request that went out, through no fault of the client.
    pub(crate) fn sent(error: ProxyError, how: AfterSend) -> Self {
        Self {
            error,
            at: FailedAt::AfterSend(how),
            unsent: None,
            stale: false,
            given_back: None,
        }
    }

    /// A failure on the client's side (its upload failed): never retried, never
    /// counted against the backend.
    pub(crate) fn downstream(error: ProxyError) -> Self {
        Self {
            error,
            at: FailedAt::Downstream,
            unsent: None,
            stale: false,
            given_back: None,
        }
    }
}
