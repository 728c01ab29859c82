//! The bounded label values.

/// The class of an HTTP status code: the `code` label of `sluicegate_requests_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeClass {
    /// 1xx.
    Informational,
    /// 2xx.
    Success,
    /// 3xx.
    Redirection,
    /// 4xx.
    ClientError,
    /// 5xx.
    ServerError,
}

impl CodeClass {
    /// Every class, in label order.
    pub const ALL: [CodeClass; 5] = [
        CodeClass::Informational,
        CodeClass::Success,
        CodeClass::Redirection,
        CodeClass::ClientError,
        CodeClass::ServerError,
    ];

    /// The class of `status` (codes outside 100–599 count as 5xx: hyper does not
    /// produce them).
    pub fn of(status: u16) -> Self {
        match status {
            100..=199 => CodeClass::Informational,
            200..=299 => CodeClass::Success,
            300..=399 => CodeClass::Redirection,
            400..=499 => CodeClass::ClientError,
            _ => CodeClass::ServerError,
        }
    }

    /// The label value: `1xx` … `5xx`.
    pub fn label(self) -> &'static str {
        match self {
            CodeClass::Informational => "1xx",
            CodeClass::Success => "2xx",
            CodeClass::Redirection => "3xx",
            CodeClass::ClientError => "4xx",
            CodeClass::ServerError => "5xx",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why the proxy answered a request itself: the `kind` label of `sluicegate_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No route matched (404).
    NoRoute,
    /// The cluster had no eligible backend (503).
    NoBackend,
    /// The backend refused, reset, or answered with garbage (502).
    BadGateway,
    /// Connecting to or waiting for the backend timed out (504).
    Timeout,
    /// The request was malformed or its method unsupported (400, 405).
    BadRequest,
    /// The proxy shed the request: out of a local resource (file descriptors), or a
    /// backend's queue was full (503 with `Retry-After`).
    Overloaded,
    /// A route's rate limit refused it (429).
    RateLimited,
    /// The client closed or reset its connection (or HTTP/2 stream) before its
    /// request body ended (nginx's 499): the request went no further.
    ClientClosed,
}

impl ErrorKind {
    /// Every kind, in label order.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::NoRoute,
        ErrorKind::NoBackend,
        ErrorKind::BadGateway,
        ErrorKind::Timeout,
        ErrorKind::BadRequest,
        ErrorKind::Overloaded,
        ErrorKind::RateLimited,
        ErrorKind::ClientClosed,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::NoRoute => "no_route",
            ErrorKind::NoBackend => "no_backend",
            ErrorKind::BadGateway => "bad_gateway",
            ErrorKind::Timeout => "timeout",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ClientClosed => "client_closed",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a connection to a backend failed: the `reason` label of
/// `sluicegate_upstream_connect_errors_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectReason {
    /// Connection refused.
    Refused,
    /// The connect timeout passed.
    Timeout,
    /// Reset during the connection attempt.
    Reset,
    /// The TLS handshake failed.
    Tls,
    /// Anything else the OS reported (unreachable, no route, …).
    Other,
}

impl ConnectReason {
    /// Every reason, in label order.
    pub const ALL: [ConnectReason; 5] = [
        ConnectReason::Refused,
        ConnectReason::Timeout,
        ConnectReason::Reset,
        ConnectReason::Tls,
        ConnectReason::Other,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            ConnectReason::Refused => "refused",
            ConnectReason::Timeout => "timeout",
            ConnectReason::Reset => "reset",
            ConnectReason::Tls => "tls",
            ConnectReason::Other => "other",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(CodeClass::of(101).label(), "1xx");
        assert_eq!(CodeClass::of(204).label(), "2xx");
        assert_eq!(CodeClass::of(304).label(), "3xx");
        assert_eq!(CodeClass::of(404).label(), "4xx");
        assert_eq!(CodeClass::of(503).label(), "5xx");
        assert_eq!(CodeClass::of(999).label(), "5xx");
        for (i, class) in CodeClass::ALL.iter().enumerate() {
            assert_eq!(class.index(), i);
        }
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(kind.index(), i);
        }
        for (i, reason) in ConnectReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
    }
}

/// Why the HTTP parser refused a request before it became one: the `reason` label of
/// `sluicegate_rejected_requests_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// A request line or header that does not parse (400).
    Malformed,
    /// Invalid or conflicting `Content-Length` / `Transfer-Encoding` (400): the shape
    /// of a smuggling attempt.
    Framing,
    /// The head is larger than the parser accepts (431).
    HeadTooLarge,
    /// The request target is too long (414).
    UriTooLong,
    /// The head did not arrive whole within the header read timeout (408).
    HeadTimeout,
}

impl RejectReason {
    /// Every reason, in label order.
    pub const ALL: [RejectReason; 5] = [
        RejectReason::Malformed,
        RejectReason::Framing,
        RejectReason::HeadTooLarge,
        RejectReason::UriTooLong,
        RejectReason::HeadTimeout,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::Framing => "framing",
            RejectReason::HeadTooLarge => "head_too_large",
            RejectReason::UriTooLong => "uri_too_long",
            RejectReason::HeadTimeout => "head_timeout",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Which limit refused an accepted connection: the `reason` label of
/// `sluicegate_downstream_connections_refused_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionLimit {
    /// The listener's `max_connections`.
    Listener,
    /// The process's `max_connections`.
    Process,
    /// The listener's `connection_rate_limit` for the client's address.
    SourceRate,
}

impl ConnectionLimit {
    /// Every reason, in label order.
    pub const ALL: [ConnectionLimit; 3] = [
        ConnectionLimit::Listener,
        ConnectionLimit::Process,
        ConnectionLimit::SourceRate,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionLimit::Listener => "listener_limit",
            ConnectionLimit::Process => "process_limit",
            ConnectionLimit::SourceRate => "source_rate",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}
