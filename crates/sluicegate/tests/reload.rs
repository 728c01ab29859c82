//! Hot reload of a real `sluicegate run` process: real files in a temp dir, the real
//! watcher, real sockets. Every wait is a poll with a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod reload {
    pub mod failures;
    pub mod names;
    pub mod saves;
}

use sluicegate_testkit::{
    APPLIED, Detached, PROCESS_WAIT, ProcessProxy, free_port, poll, process_config,
};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn every_save_style_is_applied() {
    let mut fakes = Detached::start();
    let (a, b) = (fakes.named("a"), fakes.named("b"));
    let (dir, path, listen, proxy) = ProcessProxy::serving(BIN, a);

    // In place (truncate and write).
    std::fs::write(&path, process_config(listen, b)).unwrap();
    assert!(proxy.serves("b", APPLIED), "in-place write not applied");

    // Write a temporary file, rename it over the config (vim, VS Code, sed -i).
    let temp = dir.path().join(".sluicegate.yaml.swp");
    std::fs::write(&temp, process_config(listen, a)).unwrap();
    std::fs::rename(&temp, &path).unwrap();
    assert!(proxy.serves("a", APPLIED), "rename not applied");

    // Delete, then create.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, process_config(listen, b)).unwrap();
    assert!(proxy.serves("b", APPLIED), "delete + create not applied");
    assert!(
        poll(APPLIED, || proxy.logged("reload ")),
        "no reload line in the log"
    );
}

#[test]
fn a_kubernetes_configmap_swap_and_a_symlinked_path_are_applied() {
    // ConfigMap layout: dir/config.yaml -> ..data/config.yaml, ..data -> ..v1 (a dir).
    let mut fakes = Detached::start();
    let (a, b) = (fakes.named("a"), fakes.named("b"));
    let dir = tempfile::tempdir().unwrap();
    let listen = free_port();
    let v1 = dir.path().join("..v1");
    std::fs::create_dir(&v1).unwrap();
    std::fs::write(v1.join("config.yaml"), process_config(listen, a)).unwrap();
    std::os::unix::fs::symlink("..v1", dir.path().join("..data")).unwrap();
    let path = dir.path().join("config.yaml");
    std::os::unix::fs::symlink("..data/config.yaml", &path).unwrap();
    let proxy = ProcessProxy::start(BIN, &path, listen);
    assert!(proxy.serves("a", PROCESS_WAIT));

    // The kubelet writes ..v2, points a temporary link at it, renames it over ..data.
    let v2 = dir.path().join("..v2");
    std::fs::create_dir(&v2).unwrap();
    std::fs::write(v2.join("config.yaml"), process_config(listen, b)).unwrap();
    let tmp_link = dir.path().join("..data_tmp");
    std::os::unix::fs::symlink("..v2", &tmp_link).unwrap();
    std::fs::rename(&tmp_link, dir.path().join("..data")).unwrap();
    std::fs::remove_dir_all(&v1).unwrap();
    assert!(proxy.serves("b", APPLIED), "..data swap not applied");

    // Editing the file the link points to is seen too.
    std::fs::write(v2.join("config.yaml"), process_config(listen, a)).unwrap();
    assert!(
        proxy.serves("a", APPLIED),
        "write through the symlink not applied"
    );
}

#[test]
fn bad_saves_keep_the_running_config_and_the_next_good_one_applies() {
    let mut fakes = Detached::start();
    let (a, b) = (fakes.named("a"), fakes.named("b"));
    let (_dir, path, listen, proxy) = ProcessProxy::serving(BIN, a);

    std::fs::write(&path, "listeners: [unclosed\n").unwrap();
    assert!(
        poll(APPLIED, || proxy.count("reload rejected") >= 1),
        "syntax error not reported"
    );
    assert_eq!(proxy.get(), "a");

    let invalid = process_config(listen, b).replace(&b.to_string(), "127.0.0.1:99999");
    std::fs::write(&path, invalid).unwrap();
    assert!(
        poll(APPLIED, || proxy
            .logged("invalid socket address \"127.0.0.1:99999\"")),
        "validation error not reported with its path: {:?}",
        proxy.log()
    );
    assert!(poll(APPLIED, || proxy.logged("clusters.app.backends[0].address")));
    assert_eq!(proxy.get(), "a");

    std::fs::remove_file(&path).unwrap();
    assert!(poll(APPLIED, || proxy.logged("is missing")));
    assert_eq!(proxy.get(), "a");

    std::fs::write(&path, process_config(listen, b)).unwrap();
    assert!(
        proxy.serves("b", APPLIED),
        "the good save after bad ones was not applied"
    );
}

#[test]
fn sighup_reloads_at_once() {
    let mut fakes = Detached::start();
    let a = fakes.named("a");
    let (_dir, _path, _listen, proxy) = ProcessProxy::serving(BIN, a);
    proxy.hup();
    assert!(
        // The file did not change: the reload runs and applies nothing.
        poll(APPLIED, || proxy.logged("reload: no changes")),
        "SIGHUP did not reload: {:?}",
        proxy.log()
    );
    assert_eq!(proxy.get(), "a");
}

/// Reads one HTTP/1.1 response with a `content-length` from a kept-alive stream and
/// returns its status line and body, or `None` if the exchange failed.
fn exchange(stream: &mut BufReader<TcpStream>) -> Option<(String, String)> {
    stream
        .get_mut()
        .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        .ok()?;
    let mut status = String::new();
    stream.read_line(&mut status).ok()?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some((status.trim_end().to_owned(), String::from_utf8(body).ok()?))
}

#[test]
fn no_request_fails_while_the_file_is_rewritten_every_200ms() {
    let mut fakes = Detached::start();
    let sets = [
        [fakes.named("a"), fakes.named("b")],
        [fakes.named("c"), fakes.named("d")],
    ];
    let write = |path: &Path, listen: SocketAddr, set: usize, policy: &str| {
        let [x, y] = sets[set];
        let yaml = format!(
            "listeners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: app\n\
             clusters:\n  app:\n    policy: {policy}\n    backends:\n      - address: {x}\n      - address: {y}\n\
             admin:\n  address: 127.0.0.1:0\n"
        );
        let temp = path.with_extension("tmp");
        std::fs::write(&temp, yaml).unwrap();
        std::fs::rename(&temp, path).unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    write(&path, listen, 0, "round_robin");
    let proxy = ProcessProxy::start(BIN, &path, listen);
    assert!(poll(PROCESS_WAIT, || proxy.get() == "a" || proxy.get() == "b"));

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let stream = TcpStream::connect_timeout(&listen, PROCESS_WAIT).unwrap();
                stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
                let mut stream = BufReader::new(stream);
                let mut served = 0usize;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let (status, body) =
                        exchange(&mut stream).unwrap_or_else(|| panic!("request {served} failed"));
                    assert_eq!(status, "HTTP/1.1 200 OK", "request {served}: {body}");
                    assert!(["a", "b", "c", "d"].contains(&body.as_str()), "{body}");
                    served += 1;
                }
                served
            })
        })
        .collect();
    let started = Instant::now();
    let mut rewrites = 0;
    while started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
        rewrites += 1;
        let policy = if rewrites % 4 < 2 {
            "least_connections"
        } else {
            "random"
        };
        write(&path, listen, rewrites % 2, policy);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let served: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(served > 0);
    assert!(
        proxy.count("applied in") >= 2,
        "the rewrites were not applied"
    );
    // The last file wins once the writes stop.
    let last = &sets[rewrites % 2];
    let names = if rewrites % 2 == 0 {
        ["a", "b"]
    } else {
        ["c", "d"]
    };
    assert!(
        poll(APPLIED, || (0..4)
            .all(|_| names.contains(&proxy.get().as_str()))),
        "the last rewrite ({last:?}) was not applied"
    );
}
