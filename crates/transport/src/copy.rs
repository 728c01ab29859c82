//! The copy of one layer-4 session: bytes both ways between the client and the
//! backend until both sides have closed, with a half-close passed on (the client's
//! FIN reaches the backend as a FIN while the backend's answer keeps flowing: tokio's
//! `copy_bidirectional` shuts the other side's write half at each EOF), ended early
//! when no byte moved either way for the idle timeout, or when the caller stops it
//! (the listener's drain time ran out).

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::activity::{Activity, Stamped};

/// Each direction's copy buffer. Tokio's default (8 KiB), which `benches/load.sh`'s
/// tcp rows measure against HAProxy's 16 KiB buffers.
const BUFFER: usize = 8 * 1024;

/// How a session's copy ended.
#[derive(Debug)]
pub enum CopyEnd {
    /// Both sides closed.
    Closed,
    /// No byte moved either way for the idle timeout.
    Idle,
    /// A read or write failed (a reset).
    Failed(io::Error),
    /// The caller's stop fired.
    Stopped,
}

/// What a session's copy did.
#[derive(Debug)]
pub struct Copied {
    /// Bytes written to the backend (read from the client).
    pub to_backend: u64,
    /// Bytes written to the client (read from the backend).
    pub to_client: u64,
    /// How it ended.
    pub end: CopyEnd,
}

/// Copies between `client` and `backend` until both close, `idle` passes without a
/// byte either way, or `stop` resolves.
pub async fn copy_session<C, B, F>(client: C, backend: B, idle: Duration, stop: F) -> Copied
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
    F: Future<Output = ()>,
{
    let activity = Activity::new();
    // Every byte of both directions passes the client side: stamping it alone keeps
    // the idle clock.
    let mut client = Stamped::new(client, activity.clone());
    let mut backend = backend;
    let copied = tokio::select! {
        copied = tokio::io::copy_bidirectional_with_sizes(&mut client, &mut backend, BUFFER, BUFFER) => {
            match copied {
                Ok(_) => CopyEnd::Closed,
                Err(error) => CopyEnd::Failed(error),
            }
        }
        () = activity.idle_for(idle) => CopyEnd::Idle,
        () = stop => CopyEnd::Stopped,
    };
    Copied {
        to_backend: client.read(),
        to_client: client.written(),
        end: copied,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_half_close_passes_on_and_the_other_way_keeps_flowing() {
        let (client, mut client_far) = tokio::io::duplex(1024);
        let (backend, mut backend_far) = tokio::io::duplex(1024);
        let copy = tokio::spawn(copy_session(
            client,
            backend,
            Duration::from_secs(60),
            std::future::pending(),
        ));
        client_far.write_all(b"request").await.unwrap();
        client_far.shutdown().await.unwrap();
        let mut got = Vec::new();
        backend_far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"request");
        // The backend still answers after the client's FIN.
        backend_far.write_all(b"answer after FIN").await.unwrap();
        backend_far.shutdown().await.unwrap();
        let mut answer = Vec::new();
        client_far.read_to_end(&mut answer).await.unwrap();
        assert_eq!(answer, b"answer after FIN");
        let copied = copy.await.unwrap();
        assert!(matches!(copied.end, CopyEnd::Closed), "{copied:?}");
        assert_eq!((copied.to_backend, copied.to_client), (7, 16));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_session_ends_at_its_idle_timeout_with_its_counts() {
        let (client, mut client_far) = tokio::io::duplex(1024);
        let (backend, _backend_far) = tokio::io::duplex(1024);
        let copy = tokio::spawn(copy_session(
            client,
            backend,
            Duration::from_secs(30),
            std::future::pending(),
        ));
        client_far.write_all(b"ping").await.unwrap();
        let copied = copy.await.unwrap();
        assert!(matches!(copied.end, CopyEnd::Idle), "{copied:?}");
        assert_eq!(copied.to_backend, 4);
    }
}
