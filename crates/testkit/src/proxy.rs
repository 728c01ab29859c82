//! The proxy in process: config text → snapshot → bound [`Server`] → running task,
//! the same path the binary takes, minus signals.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use sluicegate_config::BackendSpec;
use sluicegate_listener::{Control, DrainOutcome, Server, Workers};
use sluicegate_runtime::{BackendState, Discovered, Reload, SnapshotHandle, Transient};
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;

use crate::{Backend, WAIT, within};

/// A running proxy. Dropping it stops it at once (the serving task is aborted);
/// [`Proxy::shutdown`] drains it instead.
#[derive(Debug)]
pub struct Proxy {
    control: Control,
    /// The reload core the binary uses, with the config being served.
    core: Mutex<Reload<Control>>,
    addrs: Vec<(String, SocketAddr)>,
    drain_timeout: Duration,
    trigger: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<DrainOutcome>>,
}

/// Parses, compiles, binds and starts the proxy described by `yaml` (listeners
/// should use `127.0.0.1:0`). Panics with the config errors, one per line, if the
/// config is invalid, and with the reason if it cannot be compiled or bound.
pub async fn start_proxy(yaml: &str) -> Proxy {
    start_proxy_on(yaml, Workers::current()).await
}

/// [`start_proxy`], its connections served on `workers` (start them first: the
/// upstream pools are built per worker).
pub async fn start_proxy_on(yaml: &str, workers: Workers) -> Proxy {
    let config = sluicegate_config::parse(yaml).unwrap_or_else(|errors| {
        panic!(
            "invalid test config:\n{}\n--- config ---\n{yaml}",
            errors.lines().join("\n")
        )
    });
    let snapshot = sluicegate_runtime::compile(&config, None)
        .unwrap_or_else(|e| panic!("test config does not compile: {e}"));
    let handle = Arc::new(SnapshotHandle::new(snapshot));
    let server =
        Server::bind_on(handle, workers).unwrap_or_else(|e| panic!("cannot bind the proxy: {e}"));
    let addrs = config
        .listeners
        .iter()
        .map(|l| {
            let name = l.name.to_string();
            let addr = server
                .local_addr(&name)
                .unwrap_or_else(|| panic!("listener {name} has no bound address"));
            (name, addr)
        })
        .collect();
    let control = server.control();
    let (trigger, stop) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stop.await;
    }));
    Proxy {
        core: Mutex::new(Reload::new(control.clone(), config.clone())),
        control,
        addrs,
        drain_timeout: config.drain_timeout,
        trigger: Some(trigger),
        task: Some(task),
    }
}

impl Proxy {
    /// The address of the first listener (by name order).
    pub fn addr(&self) -> SocketAddr {
        self.addrs
            .first()
            .map(|(_, addr)| *addr)
            .unwrap_or_else(|| panic!("the proxy has no listener"))
    }

    /// The address of listener `name`.
    pub fn listener(&self, name: &str) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, addr)| *addr)
            .unwrap_or_else(|| panic!("the proxy has no listener named {name:?}"))
    }

    /// The address listener `name` is bound to now, including listeners added by
    /// [`Proxy::apply`] (whose port 0 resolves at that point).
    pub fn listener_now(&self, name: &str) -> SocketAddr {
        self.control
            .local_addr(name)
            .unwrap_or_else(|| panic!("the proxy has no listener named {name:?} now"))
    }

    /// Applies `yaml` through the reload core the binary uses: compiled against the
    /// running snapshot (so backend state carries over), listener changes included,
    /// nothing touched if it equals the running config. Panics if the config is
    /// invalid or cannot be applied (e.g. an address cannot be bound).
    pub async fn apply(&self, yaml: &str) {
        self.try_apply(yaml)
            .await
            .unwrap_or_else(|e| panic!("cannot apply the test config: {e}"));
    }

    /// Applies `yaml`, expecting it to be rejected; returns its errors, one
    /// `path: message` per line, and panics if it applied.
    pub async fn rejected(&self, yaml: &str) -> String {
        let mut core = self.core.lock().await;
        let applied = within(
            WAIT,
            "applying a config",
            core.text(yaml, "the test config"),
        );
        match applied.await {
            Ok(_) => panic!("a config that should be rejected applied:\n{yaml}"),
            Err(rejection) => {
                let errors = rejection.errors.iter();
                let lines = errors.map(|e| format!("{}: {}", e.path, e.message));
                lines.collect::<Vec<_>>().join("\n")
            }
        }
    }

    /// Like [`Proxy::apply`], but a config that cannot be applied (a listener that
    /// cannot be bound) is an `Err` with the reason; the running config stays. Still
    /// panics if the config is invalid or after [`WAIT`].
    pub async fn try_apply(&self, yaml: &str) -> Result<(), String> {
        let mut core = self.core.lock().await;
        let applied = within(
            WAIT,
            "applying a config",
            core.text(yaml, "the test config"),
        );
        match applied.await {
            Ok(_) => Ok(()),
            Err(rejection) => {
                let errors = rejection.errors.iter().map(|e| match e.path.as_str() {
                    "" => e.message.clone(),
                    path => format!("{path}: {}", e.message),
                });
                let errors = errors.collect::<Vec<_>>().join("\n");
                match rejection.transient {
                    Some(Transient::Bind) => Err(errors),
                    _ => panic!("invalid test config:\n{errors}\n--- config ---\n{yaml}"),
                }
            }
        }
    }

    /// Serves `backends` as the answer of discovered cluster `cluster`'s source (weight
    /// 1 each), through the reload core as the binary's discovery does
    /// (`Reload::discovered`). Panics if the cluster has no `discovery:` or the set
    /// is rejected.
    pub async fn discovered(&self, cluster: &str, backends: &[SocketAddr]) -> Discovered {
        let mut core = self.core.lock().await;
        let Some(running) = core
            .running()
            .clusters
            .iter()
            .find(|c| c.name.as_str() == cluster)
        else {
            panic!("the proxy has no cluster named {cluster:?}");
        };
        let (name, spec) = match &running.discovery {
            Some(spec) => (running.name.clone(), spec.clone()),
            None => panic!("cluster {cluster:?} has no discovery: block"),
        };
        let answer = backends.iter().map(|address| BackendSpec {
            address: *address,
            weight: NonZeroU32::MIN,
            down: false,
            name: None,
        });
        let served = within(
            WAIT,
            "serving a discovered set",
            core.discovered(&name, &spec, answer.collect()),
        );
        served
            .await
            .unwrap_or_else(|r| panic!("the discovered set was rejected: {:?}", r.errors))
    }

    /// The published snapshot (backends' in-flight counts, policies …).
    pub fn snapshot(&self) -> std::sync::Arc<sluicegate_runtime::Snapshot> {
        self.control.current()
    }

    /// The state (up, unhealthy, ejected …) of the backend at `addr` in cluster
    /// `cluster` of the published snapshot. Panics if there is no such backend.
    pub fn backend_state(&self, cluster: &str, addr: SocketAddr) -> BackendState {
        let snapshot = self.control.current();
        let cluster = snapshot
            .cluster(cluster)
            .unwrap_or_else(|| panic!("the proxy has no cluster named {cluster:?}"));
        cluster
            .backend(addr)
            .map(|(_, backend)| backend.state())
            .unwrap_or_else(|| panic!("cluster {:?} has no backend {addr}", cluster.name))
    }

    /// The generation of the published snapshot.
    pub fn generation(&self) -> u64 {
        self.control.current().generation
    }

    /// Starts a graceful shutdown and waits for it: new connections are refused,
    /// in-flight requests get the config's `drain_timeout`. Panics if it takes longer
    /// than the drain timeout plus [`WAIT`].
    pub async fn shutdown(mut self) -> DrainOutcome {
        if let Some(trigger) = self.trigger.take() {
            let _ = trigger.send(());
        }
        let Some(task) = self.task.take() else {
            panic!("the proxy was already shut down");
        };
        within(self.drain_timeout + WAIT, "draining the proxy", task)
            .await
            .unwrap_or_else(|e| panic!("the proxy's serving task failed: {e}"))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A config with one listener `main` on `127.0.0.1:0` routing everything to one
/// cluster `app` of `backends` (weight 1 each), with a 10 s drain timeout.
/// `cluster_keys` adds `key: value` lines to the cluster (e.g. `("response_timeout",
/// "300ms")`); a nested key takes a YAML flow mapping as its value (e.g.
/// `("health_check", "{type: tcp, interval: 100ms}")`).
pub fn single_cluster(backends: &[&Backend], cluster_keys: &[(&str, &str)]) -> String {
    let mut yaml = String::from(
        "drain_timeout: 10s\nlisteners:\n  main:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\nclusters:\n  app:\n",
    );
    for (key, value) in cluster_keys {
        let _ = writeln!(yaml, "    {key}: {value}");
    }
    yaml.push_str("    backends:\n");
    for backend in backends {
        let _ = writeln!(yaml, "      - address: {}", backend.addr());
    }
    yaml
}
