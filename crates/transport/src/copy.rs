//! The copy of one layer-4 session: bytes both ways between the client and the
//! backend until both sides have closed, with a half-close passed on (the client's
//! FIN reaches the backend as a FIN while the backend's answer keeps flowing), ended
//! early when no byte moved either way for the idle timeout, or when the caller stops
//! it (the listener's drain time ran out).
//!
//! [`CopySession`] is a future written by hand, so that an open session costs what
//! it holds and no more: its two streams, a [`Direction`] each way (no buffer while
//! idle, see `direction.rs`), one timer and the stop (polled only when it woke:
//! `quiet.rs`). As `async` functions nested three deep (the copy, its `select!`, the
//! idle wait) under the session's, the same state took 3.9 KiB (dhat, 3,000 idle
//! sessions): each level keeps its own copy of its arguments.
//!
//! The idle clock touches no timer on the data path: a poll that moved bytes notes
//! the time, and the timer, when it fires, re-arms itself from that note.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep};

use crate::direction::Direction;
use crate::quiet::Quiet;

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
    /// Bytes written to the backend (read from the client, and the read-ahead).
    pub to_backend: u64,
    /// Bytes written to the client (read from the backend).
    pub to_client: u64,
    /// How it ended.
    pub end: CopyEnd,
}

pin_project! {
    /// Copies between `client` and `backend` until both close, the idle timeout
    /// passes without a byte either way, or `stop` resolves.
    #[project = Projected]
    #[derive(Debug)]
    pub struct CopySession<C, B, F> {
        client: C,
        backend: B,
        up: Direction,
        down: Direction,
        up_done: bool,
        down_done: bool,
        // Which direction the next poll copies first (they take turns).
        down_first: bool,
        idle: Duration,
        // Bytes moved both ways at the last poll, and when that count last changed.
        moved: u64,
        last: Instant,
        #[pin]
        timer: Sleep,
        // Polled only when it woke: the session's task is woken by every byte.
        stop: Quiet<F>,
    }
}

impl<C, B, F: Future> CopySession<C, B, F> {
    /// A copy between `client` and `backend` that sends `prefix` (bytes read from the
    /// client ahead of the copy) to the backend first.
    pub fn new(client: C, backend: B, prefix: Bytes, idle: Duration, stop: F) -> Self {
        Self {
            client,
            backend,
            up: Direction::starting_with(prefix),
            down: Direction::default(),
            up_done: false,
            down_done: false,
            down_first: false,
            idle,
            moved: 0,
            last: Instant::now(),
            timer: tokio::time::sleep(idle),
            stop: Quiet::new(stop),
        }
    }
}

impl<C, B, F> Future for CopySession<C, B, F>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
    F: Future<Output = ()>,
{
    type Output = Copied;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Copied> {
        let mut this = self.project();
        let end = match both_ways(&mut this, cx) {
            Poll::Ready(Ok(())) => CopyEnd::Closed,
            Poll::Ready(Err(error)) => CopyEnd::Failed(error),
            Poll::Pending if Pin::new(&mut *this.stop).poll(cx).is_ready() => CopyEnd::Stopped,
            Poll::Pending => {
                ready!(idle(&mut this, cx));
                CopyEnd::Idle
            }
        };
        Poll::Ready(Copied {
            to_backend: this.up.moved,
            to_client: this.down.moved,
            end,
        })
    }
}

/// Both directions until both are done (each has passed its reader's EOF on), or
/// until either fails: then the session is over both ways, as with tokio's
/// `copy_bidirectional`. Which goes first alternates from poll to poll: a direction
/// copies until its reader has nothing, and under tokio's task budget the one polled
/// second of a saturated pair would get nothing at all.
fn both_ways<C, B, F>(
    this: &mut Projected<'_, C, B, F>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (client, backend) = (&mut *this.client, &mut *this.backend);
    *this.down_first = !*this.down_first;
    for down in [*this.down_first, !*this.down_first] {
        if down && !*this.down_done {
            *this.down_done = this
                .down
                .poll_copy(cx, Pin::new(&mut *backend), Pin::new(&mut *client))?
                .is_ready();
        } else if !down && !*this.up_done {
            *this.up_done = this
                .up
                .poll_copy(cx, Pin::new(&mut *client), Pin::new(&mut *backend))?
                .is_ready();
        }
    }
    if *this.up_done && *this.down_done {
        Poll::Ready(Ok(()))
    } else {
        Poll::Pending
    }
}

/// Ready once no byte moved for the idle timeout.
fn idle<C, B, F>(this: &mut Projected<'_, C, B, F>, cx: &mut Context<'_>) -> Poll<()> {
    let moved = this.up.moved + this.down.moved;
    if moved != *this.moved {
        *this.moved = moved;
        *this.last = Instant::now();
    }
    loop {
        ready!(this.timer.as_mut().poll(cx));
        // A deadline past what the clock can hold is never reached.
        let Some(deadline) = this.last.checked_add(*this.idle) else {
            return Poll::Pending;
        };
        if deadline <= Instant::now() {
            return Poll::Ready(());
        }
        this.timer.as_mut().reset(deadline);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio::task::JoinHandle;

    use super::*;

    /// A copy spawned between two in-memory pipes of `size` bytes, `prefix` sent
    /// first, idle after `idle`, ended by `stop`: the client's far end, the backend's
    /// far end, and the copy.
    fn copying<F>(
        size: usize,
        prefix: &'static [u8],
        idle: Duration,
        stop: F,
    ) -> (DuplexStream, DuplexStream, JoinHandle<Copied>)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (client, client_far) = tokio::io::duplex(size);
        let (backend, backend_far) = tokio::io::duplex(size);
        let prefix = Bytes::from_static(prefix);
        let copy = tokio::spawn(CopySession::new(client, backend, prefix, idle, stop));
        (client_far, backend_far, copy)
    }

    #[tokio::test]
    async fn a_half_close_passes_on_and_the_other_way_keeps_flowing() {
        let (mut client_far, mut backend_far, copy) =
            copying(1024, b"", Duration::from_secs(60), std::future::pending());
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
        let (mut client_far, mut backend_far, copy) =
            copying(64, b"", Duration::from_secs(60), std::future::pending());
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
        let (mut client_far, _backend_far, copy) =
            copying(1024, b"", Duration::from_secs(30), std::future::pending());
        client_far.write_all(b"ping").await.unwrap();
        let copied = copy.await.unwrap();
        assert!(matches!(copied.end, CopyEnd::Idle), "{copied:?}");
        assert_eq!(copied.to_backend, 4);
    }

    #[tokio::test]
    async fn the_bytes_read_ahead_reach_the_backend_before_the_clients_next() {
        let (mut client_far, mut backend_far, copy) = copying(
            1024,
            b"read ahead;",
            Duration::from_secs(60),
            std::future::pending(),
        );
        client_far.write_all(b"then this").await.unwrap();
        client_far.shutdown().await.unwrap();
        let mut got = Vec::new();
        backend_far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"read ahead;then this");
        backend_far.shutdown().await.unwrap();
        let copied = copy.await.unwrap();
        assert_eq!((copied.to_backend, copied.to_client), (20, 0));
    }

    #[tokio::test]
    async fn a_stop_ends_a_busy_session_when_it_fires() {
        let (fire, fired) = tokio::sync::oneshot::channel::<()>();
        let stop = async move {
            let _ = fired.await;
        };
        let (mut client_far, mut backend_far, copy) =
            copying(1024, b"", Duration::from_secs(60), stop);
        // Bytes wake the session many times; the stop is not ready through them.
        let mut back = [0u8; 4];
        for _ in 0..50 {
            client_far.write_all(b"ping").await.unwrap();
            backend_far.read_exact(&mut back).await.unwrap();
        }
        assert!(!copy.is_finished());
        fire.send(()).unwrap();
        let copied = tokio::time::timeout(Duration::from_secs(10), copy)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(copied.end, CopyEnd::Stopped), "{copied:?}");
        assert_eq!(copied.to_backend, 200);
    }
}
