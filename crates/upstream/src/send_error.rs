//! Why a request could not be sent or answered ([`SendError`]), and where that leaves
//! the request ([`SendFailure`]): handed back unsent, so it may go to another backend,
//! or sent. The classification ([`SendFailure::failed_at`]) is made here, where the
//! failure happens; what a client gets for it is the http crate's status module's.

use std::error::Error as StdError;
use std::fmt;
use std::io;

use sluicegate_metrics::ConnectReason;

use sluicegate_core::{AfterSend, FailedAt};

/// Why a request could not be sent or answered.
#[derive(Debug)]
pub enum SendError {
    /// Connecting failed (refused, reset, unreachable …).
    Connect(io::Error),
    /// Connecting took longer than the connect timeout.
    ConnectTimeout,
    /// The TLS handshake with the backend failed (its certificate refused, an alert,
    /// no common protocol): nothing was sent.
    Tls(io::Error),
    /// The HTTP exchange failed: closed, reset or an invalid response.
    Exchange(hyper::Error),
    /// The in-task client's exchange failed: closed, reset or an invalid response.
    Direct(io::Error),
    /// hyper's client read a response head that breaks a framing rule it does not
    /// check itself (`chunked` applied twice): the connection is dropped.
    Invalid(&'static str),
    /// The backend is at its `max_connections` and `max_pending` requests already
    /// wait for it: nothing was sent.
    QueueFull,
    /// The backend stayed at its `max_connections` for the whole `queue_timeout`
    /// (given): nothing was sent.
    QueueTimeout(std::time::Duration),
    /// No response head within the response timeout (which also bounds the wait
    /// for a connection, in line or connecting).
    TimedOut,
    /// A reused connection closed or reset after the request was written and before
    /// any response: most likely the backend's keep-alive timeout firing at that
    /// moment, not a failure of the request. Safe to send again on a fresh connection
    /// if the request may be sent twice.
    Stale(Box<dyn StdError + Send + Sync>),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::ConnectTimeout => f.write_str("connect timed out"),
            SendError::TimedOut => f.write_str("no response head within the response timeout"),
            SendError::QueueFull => f.write_str("backend at max_connections, its queue full"),
            SendError::QueueTimeout(d) => {
                write!(
                    f,
                    "backend at max_connections for the whole queue timeout ({d:?})"
                )
            }
            SendError::Connect(io) => write!(f, "connect: {io}"),
            SendError::Tls(io) => write!(f, "TLS: {io}"),
            // hyper's message names only the outer error: the cause is the useful part.
            SendError::Exchange(e) => chain(e, f),
            SendError::Stale(e) => chain(e.as_ref(), f),
            SendError::Direct(io) => write!(f, "{io}"),
            SendError::Invalid(why) => write!(f, "invalid response head: {why}"),
        }
    }
}

/// An error and its causes, joined.
fn chain(first: &(dyn StdError + 'static), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let chain = std::iter::successors(Some(first), |e| (*e).source());
    let parts: Vec<String> = chain.map(ToString::to_string).collect();
    f.write_str(&parts.join(": "))
}

impl SendError {
    /// The `reason` label of a failed connection attempt; `None` if it connected.
    pub fn connect_reason(&self) -> Option<ConnectReason> {
        if matches!(self, SendError::Tls(_)) {
            return Some(ConnectReason::Tls);
        }
        self.connect_error().map(|kind| match kind {
            io::ErrorKind::ConnectionRefused => ConnectReason::Refused,
            io::ErrorKind::ConnectionReset => ConnectReason::Reset,
            io::ErrorKind::TimedOut => ConnectReason::Timeout,
            _ => ConnectReason::Other,
        })
    }

    /// The OS's reason for a failed connection attempt; `None` if it connected.
    pub fn connect_error(&self) -> Option<io::ErrorKind> {
        match self {
            SendError::ConnectTimeout => Some(io::ErrorKind::TimedOut),
            SendError::Connect(io) | SendError::Tls(io) => Some(io.kind()),
            SendError::Exchange(_)
            | SendError::Direct(_)
            | SendError::Invalid(_)
            | SendError::Stale(_)
            | SendError::QueueFull
            | SendError::QueueTimeout(_)
            | SendError::TimedOut => None,
        }
    }
}

/// Whether `error` is the connection ending under an exchange (reset, broken pipe,
/// aborted): with nothing of a response read, the idle-close race of a reused
/// connection, for hyper's client and the in-task one alike.
pub(crate) fn is_reset(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// A failed send: why, and the request when none of it was sent, or when it was sent
/// but the client that sent it only borrowed it.
#[derive(Debug)]
pub struct SendFailure<R> {
    /// Why.
    pub error: SendError,
    /// The request, handed back when none of it went out. Boxed, as `given_back`
    /// is, for the size of every send's `Result`.
    pub unsent: Option<Box<R>>,
    /// The request, handed back whole after it went out: the in-task client
    /// (`direct.rs`) only borrows a request, so after an idle close
    /// ([`SendError::Stale`]) it returns it, and the caller needs no copy to send it
    /// again. Never set with `unsent`. Boxed: a failure rides in every send's
    /// `Result`, and each move of one copies its whole size (an inline second request
    /// cost ~630 instructions of copies a request under callgrind), while a
    /// request is handed back only on the rare idle close.
    pub given_back: Option<Box<R>>,
}

impl<R> SendFailure<R> {
    /// A failure before any of `request` went out.
    pub fn unsent(error: SendError, request: Box<R>) -> Self {
        Self {
            error,
            unsent: Some(request),
            given_back: None,
        }
    }

    /// A failure after the request went out.
    pub fn sent(error: SendError) -> Self {
        Self {
            error,
            unsent: None,
            given_back: None,
        }
    }

    /// The idle-close race met by a request that went out and came back whole (see
    /// [`Self::given_back`]).
    pub fn stale_given_back(error: io::Error, request: Box<R>) -> Self {
        Self {
            error: SendError::Stale(error.into()),
            unsent: None,
            given_back: Some(request),
        }
    }

    /// Where it failed: before sending when the request came back, otherwise after
    /// sending, before any response head (no head in time, or a reset, a close, an
    /// invalid answer).
    pub fn failed_at(&self) -> FailedAt {
        match (&self.unsent, &self.error) {
            (Some(_), _) => FailedAt::BeforeSend,
            (None, SendError::TimedOut) => FailedAt::AfterSend(AfterSend::Timeout),
            (None, _) => FailedAt::AfterSend(AfterSend::Reset),
        }
    }

    /// Whether it is the idle-close race of a reused connection ([`SendError::Stale`]).
    pub fn is_stale(&self) -> bool {
        matches!(self.error, SendError::Stale(_))
    }
}
