//! `sluicegate run -c FILE`: load, bind, serve, drain on SIGTERM or Ctrl-C.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use sluicegate_listener::Server;
use sluicegate_runtime::SnapshotHandle;

use crate::check::{load, report, summary};

/// Entry point of `run`: builds the runtime and serves until a signal.
pub fn main(path: &Path) -> ExitCode {
    let config = match load(path) {
        Ok(config) => config,
        Err(error) => {
            return report(path, &error);
        }
    };
    let runtime = match runtime_builder().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let server = start(&config, path).await?;
        crate::reload::spawn(path, config.clone(), server.control())?;
        server.run(shutdown_signal()).await;
        Ok::<_, anyhow::Error>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The async runtime for the CPUs this process may use: with one CPU (e.g. pinned
/// by `taskset` or a cgroup limit), a single-threaded scheduler does the same work
/// without the cross-thread queues and wake-ups of the work-stealing one.
fn runtime_builder() -> tokio::runtime::Builder {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(cpus);
        builder
    }
}

/// Compiles the config and binds its listeners, logging where each one listens.
pub async fn start(config: &sluicegate_config::Config, path: &Path) -> anyhow::Result<Server> {
    let snapshot = sluicegate_runtime::compile(config, None)
        .with_context(|| format!("{}: cannot compile config", path.display()))?;
    let handle = Arc::new(SnapshotHandle::new(snapshot));
    let server = Server::bind(handle).await.map_err(|e| anyhow!(e))?;
    tracing::info!("loaded {}: {}", path.display(), summary(config));
    for (name, addr) in server.local_addrs() {
        tracing::info!(listener = %name, "listening on http://{addr}");
    }
    Ok(server)
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!("received SIGINT"),
        _ = term => tracing::info!("received SIGTERM"),
    }
}
