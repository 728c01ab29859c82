//! What the watcher reads: a save only after `reload.debounce` of quiet following its
//! last write, and nothing at all while the file is left alone.

use sluicegate_testkit::{
    APPLIED, Detached, PROCESS_WAIT, ProcessProxy, Scribbler, free_port, poll, process_config,
};

use crate::BIN;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A config with `backends` in cluster `app` under `policy`, as the lines a slow
/// writer writes one by one: every prefix of the backends is itself a valid config.
fn slow_config(listen: SocketAddr, backends: &[SocketAddr], policy: &str) -> Vec<String> {
    let head = format!(
        "admin:\n  address: 127.0.0.1:0\nreload:\n  debounce: 500ms\n\
         listeners:\n  web:\n    address: {listen}\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    policy: {policy}\n    backends:\n"
    );
    let mut parts = vec![head];
    parts.extend(backends.iter().map(|b| format!("      - address: {b}\n")));
    parts
}

/// The policy and the backend count of cluster `app` on `/status`.
fn app(proxy: &ProcessProxy) -> (String, usize) {
    let status = proxy.status();
    let clusters = status["clusters"].as_array().cloned().unwrap_or_default();
    let app = clusters.iter().find(|c| c["name"] == "app");
    let app = app.unwrap_or_else(|| panic!("no cluster app: {status}"));
    let backends = app["backends"].as_array().map_or(0, Vec::len);
    (app["policy"].as_str().unwrap_or("").to_owned(), backends)
}

#[test]
fn a_save_written_in_pieces_is_applied_whole_once() {
    let mut fakes = Detached::start();
    let backends = ["a", "b", "c", "d", "e", "f", "g"].map(|name| fakes.named(name));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    std::fs::write(
        &path,
        slow_config(listen, &backends, "round_robin").concat(),
    )
    .unwrap();
    let proxy = ProcessProxy::start(BIN, &path, listen);
    assert!(poll(PROCESS_WAIT, || !proxy.get().is_empty()));

    let saves = 4;
    for save in 0..saves {
        let policy = ["random", "round_robin"][save % 2];
        // `cat new > config.yaml` from a slow source: truncate, then the rest in
        // pieces 100 ms apart, far less than the 500 ms debounce; the whole save
        // takes 600 ms, longer than the debounce.
        let mut file = std::fs::File::create(&path).unwrap();
        for (i, part) in slow_config(listen, &backends, policy).iter().enumerate() {
            if i > 1 {
                std::thread::sleep(Duration::from_millis(100));
            }
            file.write_all(part.as_bytes()).unwrap();
        }
        drop(file);
        assert!(
            poll(APPLIED, || app(&proxy)
                == (policy.to_owned(), backends.len())),
            "save {save} was not applied: {:?}",
            proxy.lines("reload")
        );
    }
    let applied = proxy.lines("applied in");
    assert!(
        applied.iter().all(|l| !l.contains("backend")),
        "a part-written file was applied: {applied:?}"
    );
    assert_eq!(applied.len(), saves, "{applied:?}");
    assert_eq!(proxy.reloads("error"), 0, "{:?}", proxy.lines("reload"));
}

#[test]
fn an_idle_process_never_opens_its_config_file() {
    let mut fakes = Detached::start();
    let (a, b) = (fakes.named("a"), fakes.named("b"));
    let (_dir, path, listen, proxy) = ProcessProxy::serving(BIN, a);
    let opens = Arc::new(AtomicUsize::new(0));
    let counted = opens.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && matches!(
                event.kind,
                notify::EventKind::Access(notify::event::AccessKind::Open(_))
            )
        {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    })
    .unwrap();
    use notify::Watcher;
    watcher
        .watch(&path, notify::RecursiveMode::NonRecursive)
        .unwrap();

    // Other files in the directory change, the config's metadata changes: no read.
    let scribbler = Scribbler::start(&path, false);
    let permissions = std::fs::metadata(&path).unwrap().permissions();
    std::fs::set_permissions(&path, permissions).unwrap();
    let idle = !poll(Duration::from_secs(2), || opens.load(Ordering::SeqCst) > 0);
    scribbler.stop();
    assert!(
        idle,
        "the config was opened {} times while nothing changed it",
        opens.load(Ordering::SeqCst)
    );

    // A save is read (the counter works), and after it the file is left alone again.
    std::fs::write(&path, process_config(listen, b)).unwrap();
    assert!(proxy.serves("b", APPLIED));
    assert!(poll(APPLIED, || opens.load(Ordering::SeqCst) >= 2));
    let after = opens.load(Ordering::SeqCst);
    assert!(
        !poll(Duration::from_secs(1), || opens.load(Ordering::SeqCst)
            > after),
        "the config was opened again after its reload"
    );
}
