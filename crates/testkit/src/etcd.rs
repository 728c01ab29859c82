//! A real etcd server for discovery tests ([`Etcd`]): Debian's `etcd` started on
//! `127.0.0.1` with ports of its own and a temporary data directory, driven with
//! `etcdctl` (put, delete, compact), killed and restarted on the same ports and data.
//! Tests that need it are `#[ignore = "needs etcd …"]`: `.ci/run` installs
//! `etcd-server` and runs them (`-- --ignored`); without etcd, `cargo test` passes.

use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};

use tempfile::TempDir;

use crate::{PROCESS_WAIT, free_port, poll};

/// A running etcd; killed and its data removed when dropped.
#[derive(Debug)]
pub struct Etcd {
    child: Option<Child>,
    dir: TempDir,
    client: SocketAddr,
    peer: SocketAddr,
}

impl Etcd {
    /// Starts etcd and waits (up to [`PROCESS_WAIT`]) until it answers.
    pub fn start() -> Etcd {
        let dir =
            tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make etcd's data dir: {e}"));
        let mut etcd = Etcd {
            child: None,
            dir,
            client: free_port(),
            peer: free_port(),
        };
        etcd.restart();
        etcd
    }

    /// The client URL (`http://127.0.0.1:PORT`), for `discovery.etcd.endpoints`.
    pub fn url(&self) -> String {
        format!("http://{}", self.client)
    }

    /// Starts it again (after [`Etcd::kill`]) on the same ports and data, and waits
    /// until it answers.
    pub fn restart(&mut self) {
        let (client, peer) = (
            format!("http://{}", self.client),
            format!("http://{}", self.peer),
        );
        let log = std::fs::File::create(self.dir.path().join("etcd.log"))
            .unwrap_or_else(|e| panic!("cannot create etcd's log: {e}"));
        let child = Command::new("etcd")
            .args(["--name", "test", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("test={peer}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start etcd (is etcd-server installed?): {e}"));
        self.child = Some(child);
        let healthy = poll(PROCESS_WAIT, || {
            self.ctl(&["endpoint", "health"]).status.success()
        });
        assert!(healthy, "etcd did not come up: {}", self.log());
    }

    /// Kills it (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Puts `value` at `key`; returns the store's revision after it.
    pub fn put(&self, key: &str, value: &str) -> i64 {
        self.run(&["put", key, value]);
        self.revision()
    }

    /// Deletes `key`.
    pub fn delete(&self, key: &str) {
        self.run(&["del", key]);
    }

    /// Compacts the store's history up to `revision`: a watch from before it can no
    /// longer resume.
    pub fn compact(&self, revision: i64) {
        self.run(&["compaction", &revision.to_string()]);
    }

    /// The store's revision now.
    pub fn revision(&self) -> i64 {
        let out = self.run(&["get", "--prefix", "/", "--limit", "1", "-w", "json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("etcdctl get: not JSON: {e}"));
        json["header"]["revision"]
            .as_i64()
            .unwrap_or_else(|| panic!("etcdctl get: no revision in {json}"))
    }

    /// Runs `etcdctl args` against it; panics with its output if it fails.
    fn run(&self, args: &[&str]) -> Output {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args([
                "--endpoints",
                &self.url(),
                "--dial-timeout",
                "2s",
                "--command-timeout",
                "5s",
            ])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run etcdctl (is etcd-client installed?): {e}"))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}
