//! A real etcd server for discovery tests ([`Etcd`]): Debian's `etcd` started on
//! `127.0.0.1` with ports of its own and a temporary data directory, driven with
//! `etcdctl` (put, delete, compact), killed and restarted on the same ports and data.
//! Tests that need it are `#[ignore = "needs etcd …"]`: `.ci/run` installs
//! `etcd-server` and runs them (`-- --ignored`); without etcd, `cargo test` passes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use tempfile::TempDir;

use crate::{PROCESS_WAIT, TestCert, free_port, poll};

/// A running etcd; killed and its data removed when dropped.
#[derive(Debug)]
pub struct Etcd {
    child: Option<Child>,
    dir: TempDir,
    client: SocketAddr,
    peer: SocketAddr,
    /// `root:PASSWORD` once authentication is on, for etcdctl.
    root: Option<String>,
    /// The server's certificate and key, and the client certificate it requires
    /// (self-signed, so also the CA it trusts), as files.
    tls: Option<Files>,
}

/// The PEM files of a TLS etcd.
#[derive(Debug)]
struct Files {
    server: (PathBuf, PathBuf),
    client: Option<(PathBuf, PathBuf)>,
}

impl Etcd {
    /// Starts etcd and waits (up to [`PROCESS_WAIT`]) until it answers.
    pub fn start() -> Etcd {
        Self::start_with(None, None)
    }

    /// Starts etcd serving TLS with `server` (its certificate, for `127.0.0.1`), and,
    /// with `client`, requiring that client certificate (trusted as its own CA).
    pub fn start_tls(server: &TestCert, client: Option<&TestCert>) -> Etcd {
        Self::start_with(Some(server), client)
    }

    fn start_with(server: Option<&TestCert>, client: Option<&TestCert>) -> Etcd {
        let dir =
            tempfile::tempdir().unwrap_or_else(|e| panic!("cannot make etcd's data dir: {e}"));
        let tls = server.map(|cert| Files {
            server: cert.write(dir.path(), "server"),
            client: client.map(|c| c.write(dir.path(), "client")),
        });
        let mut etcd = Etcd {
            child: None,
            dir,
            client: free_port(),
            peer: free_port(),
            root: None,
            tls,
        };
        etcd.restart();
        etcd
    }

    /// The client URL (`http://127.0.0.1:PORT`, `https://` with TLS), for
    /// `discovery.etcd.endpoints`.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.client)
    }

    /// The server certificate's file (the CA a client trusts), with TLS.
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|t| t.server.0.clone())
    }

    /// Starts it again (after [`Etcd::kill`]) on the same ports and data, and waits
    /// until it answers.
    pub fn restart(&mut self) {
        let (client, peer) = (self.url(), format!("http://{}", self.peer));
        let log = std::fs::File::create(self.dir.path().join("etcd.log"))
            .unwrap_or_else(|e| panic!("cannot create etcd's log: {e}"));
        let mut command = Command::new("etcd");
        if let Some(tls) = &self.tls {
            let (cert, key) = &tls.server;
            command
                .arg("--cert-file")
                .arg(cert)
                .arg("--key-file")
                .arg(key);
            if let Some((client_cert, _)) = &tls.client {
                let trusted = ["--client-cert-auth", "--trusted-ca-file"];
                command.args(trusted).arg(client_cert);
            }
        }
        let child = command
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

    /// Turns authentication on, with a `user` who may read every key under `prefix`
    /// (and etcd's `root`, whom this helper uses from now on).
    pub fn enable_auth(&mut self, user: &str, password: &str, prefix: &str) {
        let root_password = "root-secret";
        self.run(&[
            "user",
            "add",
            "root",
            &format!("--new-user-password={root_password}"),
        ]);
        self.run(&[
            "user",
            "add",
            user,
            &format!("--new-user-password={password}"),
        ]);
        self.run(&["role", "add", "readers"]);
        self.run(&[
            "role",
            "grant-permission",
            "readers",
            "read",
            prefix,
            "--prefix=true",
        ]);
        self.run(&["user", "grant-role", user, "readers"]);
        self.run(&["auth", "enable"]);
        self.root = Some(format!("root:{root_password}"));
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
        let mut command = Command::new("etcdctl");
        command
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.url()]);
        command.args(["--dial-timeout", "2s", "--command-timeout", "5s"]);
        if let Some(root) = &self.root {
            command.args(["--user", root]);
        }
        if let Some(tls) = &self.tls {
            command.arg("--cacert").arg(&tls.server.0);
            if let Some((cert, key)) = &tls.client {
                command.arg("--cert").arg(cert).arg("--key").arg(key);
            }
        }
        command
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
