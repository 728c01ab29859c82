//! Bounded waits: the bound of one network step, polling with a deadline, an echo
//! round trip.

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bound of every single network step in these tests (connect, handshake, one
/// read): far above what a loaded machine needs, so reaching it means a hang.
pub const STEP: Duration = Duration::from_secs(10);

/// How long a renewed certificate may take to be served (the watcher's promise).
pub const SWAP_WITHIN: Duration = Duration::from_secs(2);

/// Polls `probe` until it is true, for at most `within` (every 20 ms); whether it got
/// there.
pub async fn eventually<F, Fut>(within: Duration, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if probe().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Writes `line` on `stream` and reads its echo back, within [`STEP`].
pub async fn round_trip<S>(stream: &mut S, line: &[u8]) -> Vec<u8>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let exchange = async {
        stream.write_all(line).await?;
        stream.flush().await?;
        let mut back = vec![0u8; line.len()];
        stream.read_exact(&mut back).await?;
        io::Result::Ok(back)
    };
    tokio::time::timeout(STEP, exchange)
        .await
        .expect("the echo comes back in time")
        .expect("the connection still works")
}
