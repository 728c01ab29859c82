//! A TLS echo server on 127.0.0.1 built on `ServerTls::accept`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sluicegate_tls::{Alpn, ServerTls};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::wait::STEP;

/// One handshake as the server saw it: ALPN and SNI, or the error's text.
pub type Seen = Result<(Alpn, Option<String>), String>;

/// A TLS echo server on 127.0.0.1: each connection is handshaken by
/// `ServerTls::accept` (timeout `handshake`) on a task of its own, reported on `seen`,
/// then echoes what it reads. Stops when dropped.
pub struct EchoServer {
    pub addr: SocketAddr,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EchoServer {
    pub async fn start(tls: Arc<ServerTls>, handshake: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (report, seen) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((tcp, _)) = listener.accept().await {
                let (tls, report) = (tls.clone(), report.clone());
                connections.spawn(async move {
                    match tls.accept(tcp, handshake).await {
                        Ok(done) => {
                            let _ = report.send(Ok((done.alpn, done.sni)));
                            echo(done.stream).await;
                        }
                        Err(error) => {
                            let _ = report.send(Err(format!("{error:?}")));
                        }
                    }
                });
            }
        });
        Self { addr, seen, task }
    }

    /// The next handshake the server reports.
    pub async fn next_seen(&mut self) -> Seen {
        tokio::time::timeout(STEP, self.seen.recv())
            .await
            .expect("the server reports a handshake in time")
            .expect("the server runs")
    }
}

async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = [0u8; 1024];
    while let Ok(Ok(n @ 1..)) = tokio::time::timeout(STEP, stream.read(&mut buf)).await {
        if stream.write_all(&buf[..n]).await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
}
