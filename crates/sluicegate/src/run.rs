//! `sluicegate run -c FILE`: load, bind, serve, drain on SIGTERM or Ctrl-C, or once a
//! new binary took the sockets over (`--upgrade`, see `upgrade.rs`).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use sluicegate_listener::{DrainOutcome, Inherited, Server, Workers};
use sluicegate_runtime::SnapshotHandle;
use tokio::sync::watch;

use crate::admin::{Admin, Exporter};
use crate::check::{load, report, summary};
use crate::discovery::Discovery;
use crate::state::{Drain, State};
use crate::upgrade::{Handing, Published, UpgradeSocket};

/// Entry point of `run`: builds the runtime and serves until a signal; `upgrade`:
/// takes the sockets of the process running on the config's upgrade socket, and
/// takes over from it once bound.
pub fn main(path: &Path, upgrade: bool) -> ExitCode {
    // Before any thread: taking them edits the environment.
    let activated = crate::activation::take();
    let config = match load(path) {
        Ok(config) => config,
        Err(error) => return report(path, &error),
    };
    match serve(path, &config, upgrade, activated) {
        Ok(Stopped::Drained) => ExitCode::SUCCESS,
        // Requests were cut: a supervisor (systemd, Kubernetes) should know.
        Ok(Stopped::TimedOut | Stopped::Cut) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Takes the running process's sockets (with `upgrade`; before any thread starts, so a
/// refusal costs nothing), then builds the runtime, binds on `handed` and those, takes
/// over, and serves until stopped.
fn serve(
    path: &Path,
    config: &sluicegate_config::Config,
    upgrade: bool,
    mut handed: Vec<std::net::TcpListener>,
) -> anyhow::Result<Stopped> {
    let taken = match upgrade {
        true => {
            let (sockets, taken) = take(config)?;
            handed.extend(sockets);
            Some(taken)
        }
        false => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let workers = workers()?;
        let mut running = start(config, path, workers, Inherited::new(handed)).await?;
        let upgraded = taken.is_some();
        if let Some(taken) = taken {
            taken.take_over().await?;
            tracing::info!("upgrade: took over from the running process");
        }
        running.announce(config, upgraded);
        Ok(running.serve().await)
    })
}

/// The sockets of the process serving upgrades on the config's upgrade socket.
fn take(
    config: &sluicegate_config::Config,
) -> anyhow::Result<(Vec<std::net::TcpListener>, crate::upgrade::Taken)> {
    let Some(path) = config.admin.upgrade_socket.as_deref() else {
        anyhow::bail!(
            "--upgrade: the config sets no admin.upgrade_socket, so there is no running process to take over from"
        );
    };
    let (sockets, taken) = crate::upgrade::take(path)?;
    tracing::info!(
        "upgrade: took {} socket(s) from the process on {}",
        sockets.len(),
        path.display()
    );
    Ok((sockets, taken))
}

/// Where connections are served, for the CPUs this process may use (as `taskset` or
/// a cgroup limit allows): with one, on the main thread's runtime, beside the
/// control plane (admin API, reloads, health checks); with more, on one worker
/// thread per CPU, each with a runtime of its own (see `sluicegate_listener::Workers`),
/// the control plane staying on the main thread.
fn workers() -> anyhow::Result<Workers> {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if cpus == 1 {
        return Ok(Workers::current());
    }
    let workers = Workers::spawn(cpus).context("starting the worker threads")?;
    tracing::info!("serving on {cpus} worker threads, one per CPU");
    Ok(workers)
}

/// The config as discovery first completed it (its discovered backends filled in), the
/// discovery that goes on feeding it, and its compiled snapshot.
async fn compile(
    config: &sluicegate_config::Config,
    path: &Path,
) -> anyhow::Result<(sluicegate_config::Config, Discovery, Arc<SnapshotHandle>)> {
    let mut config = config.clone();
    let discovery = Discovery::start(&mut config).await;
    let snapshot = sluicegate_runtime::compile(&config, None)
        .with_context(|| format!("{}: cannot compile config", path.display()))?;
    Ok((config, discovery, Arc::new(SnapshotHandle::new(snapshot))))
}

/// With `admin.upgrade_socket`, binds it (not published yet: see `Running::announce`),
/// with what a new binary would be handed: the listeners' and the admin API's sockets.
fn upgrade_socket(
    config: &sluicegate_config::Config,
    server: &Server,
    admin: &Admin,
    handed: watch::Sender<bool>,
) -> anyhow::Result<Option<(UpgradeSocket, Handing)>> {
    let Some(path) = config.admin.upgrade_socket.as_deref() else {
        return Ok(None);
    };
    let socket = UpgradeSocket::bind(path)?;
    let handing = Handing {
        control: server.control(),
        admin: admin.handover()?,
        handed,
    };
    Ok(Some((socket, handing)))
}

/// Logs what was loaded and where each listener, the admin API and the health listener
/// listen, and warns of an admin API reachable from other hosts.
fn log_start(path: &Path, config: &sluicegate_config::Config, server: &Server, admin: &Admin) {
    tracing::info!("loaded {}: {}", path.display(), summary(config));
    sluicegate_runtime::log_resolutions(None, config);
    for (name, addr) in server.local_addrs() {
        let spec = config.listeners.iter().find(|l| l.name.as_str() == &*name);
        // `http`, `https`, `tcp`, `tcp+tls` (terminated), `tls_passthrough`.
        let scheme = spec.map_or("http", |l| match (l.protocol.name(), l.tls.is_some()) {
            ("http", true) => "https",
            ("tcp", true) => "tcp+tls",
            (name, _) => name,
        });
        tracing::info!(listener = %name, "listening on {scheme}://{addr}");
    }
    if let Some(addr) = admin.local_addr() {
        if !addr.ip().is_loopback() {
            tracing::warn!(
                "the admin API is reachable from other hosts on {addr} (admin.allow_remote: true): anyone who can reach it can reload and drain"
            );
        }
        tracing::info!("admin API on http://{addr}/ (metrics on /metrics)");
    }
    if let Some(addr) = admin.health_addr() {
        tracing::info!(
            "health endpoints on http://{addr}/ (read-only: /healthz, /ready, /metrics)"
        );
    }
}

/// A process that loaded its config and bound its listeners and admin API.
pub struct Running {
    server: Server,
    state: Arc<State>,
    admin: Option<SocketAddr>,
    /// Bound and not published yet, with what it hands over.
    upgrade: Option<(UpgradeSocket, Handing)>,
    /// Once published, to remove at exit.
    published: Option<Published>,
    /// Set when a new binary took over.
    handed: watch::Receiver<bool>,
}

/// Installs the metrics exporter (unless `admin.metrics: false`), compiles the config,
/// binds its listeners (served on `workers`) and the admin listener, and starts the reload task, logging
/// where each one listens.
pub async fn start(
    config: &sluicegate_config::Config,
    path: &Path,
    workers: Workers,
    inherited: Inherited,
) -> anyhow::Result<Running> {
    // Before compiling: the compiled config registers its series with the recorder.
    let exporter = config.admin.metrics.then(Exporter::install).transpose()?;
    if let Some(limit) = crate::fd_limit::raise() {
        crate::fd_limit::check(limit, config);
    }
    let (config, discovery, handle) = compile(config, path).await?;
    let config = &config;
    let admin = Admin::bind(&config.admin, &inherited).await?;
    let server = Server::bind_inherited(handle, workers, inherited).map_err(|e| anyhow!(e))?;
    for address in server.close_untaken() {
        tracing::warn!("a socket handed over on {address} matches no listener's address: closed");
    }
    let (handed_tx, handed) = watch::channel(false);
    let upgrade = upgrade_socket(config, &server, &admin, handed_tx)?;
    log_start(path, config, &server, &admin);
    let admin_addr = admin.local_addr();
    let state = Arc::new(State::new(server.control()));
    let triggers = crate::reload::spawn(path, config.clone(), state.clone(), discovery)?;
    admin.spawn(state.clone(), exporter, (triggers, handed.clone()));
    Ok(Running {
        server,
        state,
        admin: admin_addr,
        upgrade,
        published: None,
        handed,
    })
}

impl Running {
    /// The bound address of listener `name`.
    pub fn local_addr(&self, name: &str) -> Option<SocketAddr> {
        self.server.local_addr(name)
    }

    /// Says the process serves: publishes its upgrade socket (from now on an upgrade,
    /// `--upgrade` or SIGUSR2, takes over from this process) and tells systemd (as its new main process
    /// after an `upgraded` start).
    pub fn announce(&mut self, config: &sluicegate_config::Config, upgraded: bool) {
        if let Some((socket, handing)) = self.upgrade.take() {
            let published = socket.publish().and_then(|()| socket.serve(handing));
            match published {
                Ok(published) => self.published = Some(published),
                Err(e) => tracing::error!("serving, but cannot be upgraded: {e:#}"),
            }
        }
        crate::reexec::listen(self.published.is_some());
        let status = format!("serving {}", summary(config));
        if upgraded {
            crate::notify::ready_as_main(&status);
        } else {
            crate::notify::ready(&status);
        }
    }

    /// The admin API's bound address.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// Serves until SIGTERM or SIGINT, then answers 503 on `/ready` and drains. A
    /// second SIGTERM or SIGINT during the drain stops at once, cutting what is still
    /// in flight (nginx's fast shutdown, Caddy's second Ctrl-C).
    pub async fn serve(self) -> Stopped {
        let state = self.state;
        // Listening starts now and never pauses, so a second signal sent right after
        // the first cannot fall between two registrations.
        let signals = count_signals();
        let mut first = signals.clone();
        let mut handed = self.handed;
        let drain = self.server.run(async move {
            let why = tokio::select! {
                Ok(_) = first.wait_for(|n| *n >= 1) => Drain::Stopping,
                Ok(_) = handed.wait_for(|h| *h) => Drain::HandedOver,
                // Neither can come (no signal can be listened for): serve until killed.
                else => std::future::pending::<Drain>().await,
            };
            state.start_draining(why);
        });
        let published = self.published;
        let mut second = signals;
        let stopped = tokio::select! {
            outcome = drain => match outcome {
                DrainOutcome::Drained => Stopped::Drained,
                DrainOutcome::TimedOut => Stopped::TimedOut,
            },
            Ok(_) = second.wait_for(|n| *n >= 2) => {
                tracing::warn!("second signal during the drain: stopping now, in-flight requests are cut");
                Stopped::Cut
            }
        };
        if let Some(published) = published {
            published.remove();
        }
        stopped
    }
}

/// How serving ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight finished within the drain timeout.
    Drained,
    /// The drain timeout cut what was still in flight.
    TimedOut,
    /// A second signal cut the drain short.
    Cut,
}

/// Counts SIGTERM and SIGINT (Ctrl-C) from now on, logging each. A signal that cannot
/// be listened for is logged and never counted.
fn count_signals() -> tokio::sync::watch::Receiver<u32> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::watch::channel(0u32);
    let listen = |kind: SignalKind, name: &'static str| match signal(kind) {
        Ok(stream) => Some(stream),
        Err(e) => {
            tracing::error!("cannot listen for {name}: {e}");
            None
        }
    };
    let mut int = listen(SignalKind::interrupt(), "SIGINT");
    let mut term = listen(SignalKind::terminate(), "SIGTERM");
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                Some(()) = recv(&mut int) => "SIGINT",
                Some(()) = recv(&mut term) => "SIGTERM",
                else => return,
            };
            tracing::info!("received {name}");
            tx.send_modify(|n| *n += 1);
        }
    });
    rx
}

/// The next delivery of `signal`; `None` at once when it is not listened for.
async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    signal.as_mut()?.recv().await
}
