//! The copy of a layer-4 session, measured alone (`benches/l4copy.sh`): a bare TCP
//! forwarder with one of three copies, on one current-thread runtime, one backend,
//! no config, no metrics, no routing. What sluicegate keeps (`ours`) is chosen here
//! against the two other ways to do it:
//!
//! - `ours`: `sluicegate_transport::CopySession`, read into a per-thread scratch
//!   buffer, written on at once, a buffer of its own only while the writer is full;
//! - `tokio`: `tokio::io::copy_bidirectional`, two 8 KiB buffers per session;
//! - `splice`: splice(2) through a pipe each way (`tokio-splice`): the bytes stay in
//!   the kernel, at two syscalls per chunk instead of one, and 4 more descriptors per
//!   session (two pipes).
//!
//! Usage: `l4copy MODE LISTEN BACKEND`, e.g. `l4copy splice 127.0.0.1:18098
//! 127.0.0.1:19001`. It must not grow features: it is a measuring stick.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use sluicegate_transport::CopySession;
use tokio::net::{TcpListener, TcpStream};

type Failure = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: l4copy ours|tokio|splice LISTEN BACKEND";

/// How sessions are copied.
#[derive(Clone, Copy)]
enum Mode {
    Ours,
    Tokio,
    Splice,
}

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        Some("ours") => Mode::Ours,
        Some("tokio") => Mode::Tokio,
        Some("splice") => Mode::Splice,
        _ => return Err(USAGE.into()),
    };
    let listen: SocketAddr = args.next().ok_or(USAGE)?.parse()?;
    let backend: SocketAddr = args.next().ok_or(USAGE)?.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(mode, listen, backend))
}

async fn serve(mode: Mode, listen: SocketAddr, backend: SocketAddr) -> Result<(), Failure> {
    let listener = TcpListener::bind(listen).await?;
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(async move {
            let Ok(upstream) = TcpStream::connect(backend).await else {
                return;
            };
            let _ = (client.set_nodelay(true), upstream.set_nodelay(true));
            copy(mode, client, upstream).await;
        });
    }
}

/// Copies both ways until both sides close (or a side fails).
async fn copy(mode: Mode, mut client: TcpStream, mut upstream: TcpStream) {
    match mode {
        Mode::Ours => {
            let idle = Duration::from_secs(3600);
            let session =
                CopySession::new(client, upstream, Bytes::new(), idle, std::future::pending());
            session.await;
        }
        Mode::Tokio => {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
        Mode::Splice => {
            let _ = tokio_splice::zero_copy_bidirectional(&mut client, &mut upstream).await;
        }
    }
}
