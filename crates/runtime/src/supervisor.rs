//! The health supervisor: one checker task per checked backend, reconciled with each
//! published snapshot. Removed backends stop being checked, new ones start; a backend
//! whose identity, check and transport stay keeps its task, so its rise/fall counters
//! and its state survive the reload. The transport (`check_transport.rs`: cleartext
//! or TLS, with the client parameters and server name) is part of that identity, so a
//! changed `tls:` restarts the task, as a changed check does, from the cell's state.
//! The protocol (HTTP/1.1 or HTTP/2) is in the check itself.

use std::collections::HashMap;
use std::sync::Arc;

use sluicegate_core::BackendKey;
use sluicegate_health::{Check, Transport, run_checker};
use tokio::task::AbortHandle;

use crate::check_transport::check_transport;
use crate::{Backend, Snapshot, SnapshotHandle};

/// A running checker task, aborted when dropped.
#[derive(Debug)]
struct Task {
    check: Arc<Check>,
    transport: Transport,
    handle: AbortHandle,
}

impl Task {
    /// Starts checking `backend` with `check` over `transport`.
    fn start(backend: &Backend, check: &Arc<Check>, transport: Transport) -> Task {
        let handle = tokio::spawn(run_checker(
            backend.address(),
            backend.key.to_string(),
            check.clone(),
            transport.clone(),
            backend.health().clone(),
            backend.health_series.clone(),
        ))
        .abort_handle();
        Task {
            check: check.clone(),
            transport,
            handle,
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// The checker tasks of the live snapshot. Dropping it stops every check.
#[derive(Debug, Default)]
pub struct HealthSupervisor {
    tasks: HashMap<BackendKey, Task>,
}

impl HealthSupervisor {
    /// A supervisor running nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts, keeps and stops checker tasks so that exactly the checked backends of
    /// `snapshot` (not marked down) have one. Needs a tokio runtime.
    pub fn reconcile(&mut self, snapshot: &Snapshot) {
        let mut kept = HashMap::with_capacity(self.tasks.len());
        for cluster in &snapshot.clusters {
            for backend in &cluster.backends {
                let Some(check) = cluster.health.check.as_ref().filter(|_| !backend.down) else {
                    if cluster.health.check.is_none() && backend.health().set_unhealthy(false) {
                        tracing::info!(backend = %backend.key, "health checks removed: backend back in rotation");
                    }
                    continue;
                };
                let transport = check_transport(cluster, backend);
                let task = match self.tasks.remove(&backend.key) {
                    Some(task) if task.check == *check && task.transport == transport => task,
                    _ => Task::start(backend, check, transport),
                };
                kept.insert(backend.key.clone(), task);
            }
        }
        // Whatever is left belongs to removed backends: dropping aborts it.
        self.tasks = kept;
    }
}

/// Runs checks for the live snapshot of `handle`, following every published
/// generation, until this future is dropped (the server aborts it when it stops);
/// every task it started stops with it.
pub async fn supervise(handle: Arc<SnapshotHandle>) {
    let mut generations = handle.subscribe();
    let mut supervisor = HealthSupervisor::new();
    supervisor.reconcile(&handle.load());
    while generations.changed().await.is_ok() {
        supervisor.reconcile(&handle.load());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot whose cluster `app` (checked over TCP every 10 s) has `keys` and
    /// `backends`, compiled afresh (new cells, new client configs).
    fn snapshot(keys: &str, backends: &[&str]) -> Snapshot {
        let mut yaml = String::from(
            "listeners:\n  main:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\nclusters:\n  app:\n",
        );
        yaml.push_str(keys);
        yaml.push_str("    health_check: { type: tcp, interval: 10s }\n    backends:\n");
        for backend in backends {
            yaml.push_str(&format!("      - address: {backend}\n"));
        }
        let config = sluicegate_config::parse(&yaml).expect("a valid config");
        crate::compile(&config, None).expect("it compiles")
    }

    /// Reconciles with `snapshot`; the task of the first backend.
    fn task_of_first(supervisor: &mut HealthSupervisor, snapshot: &Snapshot) -> tokio::task::Id {
        supervisor.reconcile(snapshot);
        let key = &snapshot.clusters[0].backends[0].key;
        supervisor.tasks[key].handle.id()
    }

    #[tokio::test]
    async fn a_task_is_kept_while_its_check_and_transport_stay() {
        let (a, b) = ("127.0.0.1:9001", "127.0.0.1:9002");
        let mut s = HealthSupervisor::new();
        let plain = task_of_first(&mut s, &snapshot("", &[a]));
        assert_eq!(task_of_first(&mut s, &snapshot("", &[a, b])), plain);
        assert_eq!(s.tasks.len(), 2);

        let tls = "    tls: { verify: false, sni: a.test }\n";
        let over_tls = task_of_first(&mut s, &snapshot(tls, &[a, b]));
        assert_ne!(over_tls, plain, "TLS added: restarted");
        assert_eq!(task_of_first(&mut s, &snapshot(tls, &[a])), over_tls);
        assert_eq!(s.tasks.len(), 1);

        let renamed = "    tls: { verify: false, sni: other.test }\n";
        let other_name = task_of_first(&mut s, &snapshot(renamed, &[a]));
        assert_ne!(other_name, over_tls, "server name changed: restarted");
        let h2 = format!("    upstream_protocol: h2\n{renamed}");
        let over_h2 = task_of_first(&mut s, &snapshot(&h2, &[a]));
        assert_ne!(over_h2, other_name, "protocol changed: restarted");

        let h2c = task_of_first(&mut s, &snapshot("    upstream_protocol: h2c\n", &[a]));
        assert_ne!(h2c, over_h2, "TLS removed: restarted");
        // A TCP check is the same in cleartext whatever HTTP the cluster speaks.
        assert_eq!(task_of_first(&mut s, &snapshot("", &[a])), h2c);
    }
}
