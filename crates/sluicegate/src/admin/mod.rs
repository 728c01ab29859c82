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
use std::os::fd::AsFd;
use std::sync::Arc;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sluicegate_listener::Inherited;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

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
    /// Binds `admin.address` (and `admin.health_address`), or takes the socket
    /// handed over on it (`inherited`: a binary upgrade). A failure stops start-up:
    /// an operator expects the admin API where the config puts it.
    pub async fn bind(
        spec: &sluicegate_config::AdminSpec,
        inherited: &Inherited,
    ) -> anyhow::Result<Self> {
        let listener = bind(spec.address, inherited)
            .await
            .with_context(|| format!("admin.address: cannot bind {}", spec.address))?;
        let health = match spec.health_address {
            Some(address) => Some(
                bind(address, inherited)
                    .await
                    .with_context(|| format!("admin.health_address: cannot bind {address}"))?,
            ),
            None => None,
        };
        Ok(Self { listener, health })
    }

    /// Duplicates of the bound sockets, for a new binary to take (`upgrade.rs`).
    pub fn handover(&self) -> std::io::Result<Vec<std::net::TcpListener>> {
        let sockets = std::iter::once(&self.listener).chain(&self.health);
        sockets
            .map(|s| s.as_fd().try_clone_to_owned().map(Into::into))
            .collect()
    }

    /// The bound address (port 0 resolved).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The read-only listener's bound address, if there is one.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health.as_ref().and_then(|h| h.local_addr().ok())
    }

    /// Serves the admin API until the process exits or `handed` says a new binary
    /// took over; `/metrics` renders with `exporter` (`None` with
    /// `admin.metrics: false`).
    pub fn spawn(
        self,
        state: Arc<State>,
        exporter: Option<Exporter>,
        (triggers, handed): (mpsc::Sender<Trigger>, watch::Receiver<bool>),
    ) {
        let routes = Arc::new(routes::Routes {
            state,
            exporter,
            triggers,
        });
        if let Some(health) = self.health {
            tokio::spawn(serve(health, routes.clone(), true, handed.clone()));
        }
        tokio::spawn(serve(self.listener, routes, false, handed));
    }
}

/// Listens on `address`, or takes the socket handed over on it.
async fn bind(address: SocketAddr, inherited: &Inherited) -> std::io::Result<TcpListener> {
    match inherited.take(address).pop() {
        Some(socket) => {
            socket.set_nonblocking(true)?;
            TcpListener::from_std(socket)
        }
        None => TcpListener::bind(address).await,
    }
}

/// Accepts on `listener` until the process exits or `handed` is set (the sockets
/// then belong to the new binary: a scrape must reach the process that serves);
/// `read_only` serves only `/healthz`, `/ready` and `/metrics`.
async fn serve(
    listener: TcpListener,
    routes: Arc<routes::Routes>,
    read_only: bool,
    mut handed: watch::Receiver<bool>,
) {
    let mut stop = std::pin::pin!(async move {
        if handed.wait_for(|h| *h).await.is_err() {
            // No upgrade can happen any more: serve until the process exits.
            std::future::pending::<()>().await;
        }
    });
    loop {
        let accepted = tokio::select! {
            () = &mut stop => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
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
