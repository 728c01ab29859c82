//! A connected layer-4 session in its own task: the copy, then its count.
//!
//! The session leaves the task that accepted it once its backend is reached (see
//! `session.rs`): that task is sized for the largest of what a connection may do
//! before (an HTTP/1 sniff, a TLS handshake, a ClientHello read: 3 KiB), and an open
//! session would carry all of it for as long as it lasts. Here it carries what the
//! copy holds, what it counts at the end, and what holds its connection open (`H`,
//! the listener's count of its open connections, let go as the task ends).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;
use sluicegate_metrics::{L4ListenerSeries, SessionEnd, UpstreamBytes};
use sluicegate_runtime::InFlightGuard;
use sluicegate_transport::{CopyEnd, CopySession};
use sluicegate_upstream::UpstreamStream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::access::AccessLine;

/// What a session counts when it ends, and the client and backend its log line
/// names.
#[derive(Debug)]
pub(crate) struct Tally {
    /// When the backend connected.
    pub(crate) since: Instant,
    pub(crate) series: L4ListenerSeries,
    pub(crate) bytes: UpstreamBytes,
    pub(crate) client: SocketAddr,
    pub(crate) backend: SocketAddr,
    /// Its access log line, when the log is on.
    pub(crate) access: Option<Box<AccessLine>>,
}

pin_project! {
    /// One session's copy until it ends, then its count; `held` (its in-flight
    /// count at the backend, the listener's open connection) is let go after.
    pub(crate) struct Running<C, F, H> {
        #[pin]
        copy: CopySession<C, UpstreamStream, F>,
        tally: Tally,
        _held: (InFlightGuard, H),
    }
}

impl<C, F, H> Running<C, F, H> {
    /// `copy`, counted in `tally` when it ends, holding `held` until then.
    pub(crate) fn new(
        copy: CopySession<C, UpstreamStream, F>,
        tally: Tally,
        held: (InFlightGuard, H),
    ) -> Self {
        Self {
            copy,
            tally,
            _held: held,
        }
    }
}

impl<C, F, H> Future for Running<C, F, H>
where
    C: AsyncRead + AsyncWrite + Unpin,
    F: Future<Output = ()>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let copied = ready!(this.copy.poll(cx));
        let tally = &*this.tally;
        tally.bytes.count(copied.to_backend, copied.to_client);
        let end = match &copied.end {
            CopyEnd::Closed => SessionEnd::Closed,
            CopyEnd::Idle => SessionEnd::IdleTimeout,
            CopyEnd::Failed(_) => SessionEnd::Error,
            CopyEnd::Stopped => SessionEnd::Drained,
        };
        tally.series.ended(end, tally.since.elapsed());
        if let Some(line) = &tally.access {
            let moved = (copied.to_backend, copied.to_client);
            line.write(end.label(), Some(tally.backend), moved);
        }
        let (peer, backend) = (tally.client, tally.backend);
        let (to_backend, to_client) = (copied.to_backend, copied.to_client);
        tracing::debug!(%peer, %backend, to_backend, to_client, "session ended: {:?}", copied.end);
        Poll::Ready(())
    }
}
