//! The admin listener: `/metrics`, `/healthz`, `/ready`, `/status`, the status page,
//! `POST /reload` and backend drain/enable. Loopback-only unless allowed in the config.
//! With `admin.health_address`, a second listener serves the read-only part
//! (`/healthz`, `/ready`, `/metrics`) on any address, for probes and scrapes from
//! other hosts (Kubernetes' kubelet reaches a pod by its IP, never its loopback).

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

/// The bound admin socket, and the read-only one if configured.
#[derive(Debug)]
pub struct Admin {
    listener: TcpListener,
    health: Option<TcpListener>,
}

impl Admin {
    /// Binds `address`. A failure stops start-up: an operator expects the admin API
    /// where the config puts it.
    pub async fn bind(spec: &sluicegate_config::AdminSpec) -> anyhow::Result<Self> {
        let address = spec.address;
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("admin.address: cannot bind {address}"))?;
        let health = match spec.health_address {
            Some(address) => Some(
                TcpListener::bind(address)
                    .await
                    .with_context(|| format!("admin.health_address: cannot bind {address}"))?,
            ),
            None => None,
        };
        Ok(Self { listener, health })
    }

    /// The bound address (port 0 resolved).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The read-only listener's bound address, if there is one.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health.as_ref().and_then(|h| h.local_addr().ok())
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
        if let Some(health) = self.health {
            tokio::spawn(serve(health, routes.clone(), true));
        }
        tokio::spawn(serve(self.listener, routes, false));
    }
}

/// Accepts on `listener` until the process exits; `read_only` serves only `/healthz`,
/// `/ready` and `/metrics`.
async fn serve(listener: TcpListener, routes: Arc<routes::Routes>, read_only: bool) {
    loop {
        let (stream, peer) = match listener.accept().await {
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
                async move { Ok::<_, Infallible>(routes.handle(request, read_only).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, "admin connection ended with an error: {e}");
            }
        });
    }
}
