//! The admin listener: `/metrics`, `/healthz`, `/ready`, `/status`, the status page,
//! `POST /reload` and backend drain/enable. Loopback-only unless allowed in the config.

mod exporter;
mod page;
mod recorder;
mod routes;
pub mod status;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub use exporter::Exporter;

use crate::state::State;
use crate::trigger::Trigger;

/// The bound admin socket.
#[derive(Debug)]
pub struct Admin {
    listener: TcpListener,
}

impl Admin {
    /// Binds `address`. A failure stops start-up: an operator expects the admin API
    /// where the config puts it.
    pub async fn bind(address: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("admin.address: cannot bind {address}"))?;
        Ok(Self { listener })
    }

    /// The bound address (port 0 resolved).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves the admin API until the process exits; `/metrics` renders with
    /// `exporter` (`None` with `admin.metrics: false`).
    pub fn spawn(
        self,
        state: Arc<State>,
        exporter: Option<Exporter>,
        triggers: mpsc::Sender<Trigger>,
    ) {
        let routes = Arc::new(routes::Routes {
            state,
            exporter,
            triggers,
        });
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match self.listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("admin: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let routes = routes.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let routes = routes.clone();
                        async move { Ok::<_, Infallible>(routes.handle(request).await) }
                    });
                    if let Err(e) = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(%peer, "admin connection ended with an error: {e}");
                    }
                });
            }
        });
    }
}
