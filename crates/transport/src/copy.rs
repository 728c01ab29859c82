//! The copy of one layer-4 session: bytes both ways between the client and the
//! backend until both sides have closed, with a half-close passed on (the client's
//! FIN reaches the backend as a FIN while the backend's answer keeps flowing), ended
//! early when no byte moved either way for the idle timeout, or when the caller stops
//! it (the listener's drain time ran out). Each direction is a [`Direction`], which
//! holds a buffer only while its writer is full (see `direction.rs`).

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::activity::{Activity, Stamped};
use crate::direction::Direction;

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
    let (mut up, mut down) = (Direction::default(), Direction::default());
    let copied = tokio::select! {
        copied = both_ways(&mut client, &mut backend, &mut up, &mut down) => match copied {
            Ok(()) => CopyEnd::Closed,
            Err(error) => CopyEnd::Failed(error),
        },
        () = activity.idle_for(idle) => CopyEnd::Idle,
        () = stop => CopyEnd::Stopped,
    };
    Copied {
        to_backend: up.moved,
        to_client: down.moved,
        end: copied,
    }
}

/// Both directions until both are done (each has passed its reader's EOF on), or
/// until either fails: then the session is over both ways, as with tokio's
/// `copy_bidirectional`.
async fn both_ways<C, B>(
    client: &mut C,
    backend: &mut B,
    up: &mut Direction,
    down: &mut Direction,
) -> io::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (mut up_done, mut down_done) = (false, false);
    poll_fn(|cx| {
        if !up_done {
            up_done = up
                .poll_copy(cx, Pin::new(&mut *client), Pin::new(&mut *backend))?
                .is_ready();
        }
        if !down_done {
            down_done = down
                .poll_copy(cx, Pin::new(&mut *backend), Pin::new(&mut *client))?
                .is_ready();
        }
        if up_done && down_done {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await
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

    #[tokio::test]
    async fn a_slow_reader_gets_every_byte_in_order_through_the_pending_buffer() {
        // 64-byte pipes: nearly every write is partial, so the pending path carries
        // most of the bytes.
        let (client, mut client_far) = tokio::io::duplex(64);
        let (backend, mut backend_far) = tokio::io::duplex(64);
        let copy = tokio::spawn(copy_session(
            client,
            backend,
            Duration::from_secs(60),
            std::future::pending(),
        ));
        let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let expected = sent.clone();
        let writer = tokio::spawn(async move {
            client_far.write_all(&sent).await.unwrap();
            client_far.shutdown().await.unwrap();
            client_far
        });
        let mut got = Vec::new();
        let mut chunk = [0u8; 7];
        loop {
            let n = backend_far.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
            tokio::task::yield_now().await;
        }
        assert!(got == expected, "{} bytes, in order", got.len());
        backend_far.shutdown().await.unwrap();
        drop(writer.await.unwrap());
        let copied = copy.await.unwrap();
        assert!(matches!(copied.end, CopyEnd::Closed), "{copied:?}");
        assert_eq!(copied.to_backend, 200_000);
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
