//! [`FailedAt`]: where a request failed. It is set where the failure happens (the
//! upstream send, the client's body, the proxy's own checks) and carried with the
//! failure, and it alone decides what may follow: another backend, a resend, or the
//! answer to the client. Statuses are chosen from the error itself, in the http
//! crate's status module; metric labels are the metrics crate's.

/// Where a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedAt {
    /// On the client's side: its upload failed or its request is refused. Never sent
    /// again, never counted against a backend.
    Downstream,
    /// Upstream, before any of the request went out: the connection could not be
    /// opened (refused, reset, timed out, handshake failed), or a reused connection
    /// closed before it took the request. Safe to send elsewhere, whatever the method
    /// (`retries.on: connect_failure`).
    BeforeSend,
    /// Upstream, after the request went out.
    AfterSend(AfterSend),
    /// Inside the proxy: no route, no eligible backend. Nothing to send again.
    Internal,
}

/// How an exchange that was sent failed: the `retries.on` conditions past sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterSend {
    /// The connection closed or reset, or the answer was not valid HTTP, before a
    /// response head (`reset`).
    Reset,
    /// No response head within the response timeout (`timeout`).
    Timeout,
    /// The backend answered with a status the cluster retries (`retries.on: 503`).
    Status,
}

impl FailedAt {
    /// Whether sending the request again is safe: always when none of it went out;
    /// after it went out only when `replayable` (an idempotent method whose body is
    /// held whole); never for a downstream or internal failure.
    pub fn resend_safe(self, replayable: bool) -> bool {
        match self {
            FailedAt::BeforeSend => true,
            FailedAt::AfterSend(_) => replayable,
            FailedAt::Downstream | FailedAt::Internal => false,
        }
    }

    /// Whether the backend could not be reached (not connected, or silent past the
    /// response timeout): quick ejection marks it unreachable.
    pub fn unreachable(self) -> bool {
        matches!(
            self,
            FailedAt::BeforeSend | FailedAt::AfterSend(AfterSend::Timeout)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unsent_request_is_always_safe_to_send_again() {
        let sent = FailedAt::AfterSend(AfterSend::Reset);
        assert!(FailedAt::BeforeSend.resend_safe(false));
        assert!(!sent.resend_safe(false));
        assert!(sent.resend_safe(true));
        assert!(!FailedAt::Downstream.resend_safe(true));
        assert!(!FailedAt::Internal.resend_safe(true));
    }

    #[test]
    fn unreachable_means_not_connected_or_silent() {
        assert!(FailedAt::BeforeSend.unreachable());
        assert!(FailedAt::AfterSend(AfterSend::Timeout).unreachable());
        assert!(!FailedAt::AfterSend(AfterSend::Reset).unreachable());
        assert!(!FailedAt::AfterSend(AfterSend::Status).unreachable());
        assert!(!FailedAt::Downstream.unreachable());
    }
}
