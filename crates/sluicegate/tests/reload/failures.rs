//! Failed reloads: a rejected file is remembered and not retried until it changes or
//! an explicit reload asks; a listener that cannot bind is retried on a backoff timer.

use sluicegate_testkit::{
    APPLIED, Detached, ProcessProxy, Scribbler, blocking, log_seconds, poll, process_config, save,
};

use crate::BIN;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// `config` plus a second listener `side` on `side_addr`.
fn with_side_listener(listen: SocketAddr, side_addr: SocketAddr, backend: SocketAddr) -> String {
    process_config(listen, backend).replace(
        "clusters:\n",
        &format!(
            "  side:\n    address: {side_addr}\n    routes:\n      - cluster: app\nclusters:\n"
        ),
    )
}

#[test]
fn a_failed_bind_is_not_retried_by_writes_to_other_files_in_the_directory() {
    let mut fakes = Detached::start();
    let a = fakes.named("a");
    let (_dir, path, listen, proxy) = ProcessProxy::serving(BIN, a);
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap();
    // The process's log file next to the config, written all the time (issue 13).
    let scribbler = Scribbler::start(&path, true);
    save(&path, &with_side_listener(listen, busy, a));
    assert!(
        poll(APPLIED, || proxy.reloads("error") >= 1),
        "the bind failure was not reported: {:?}",
        proxy.log()
    );
    // Retries come 1 s and 3 s after the failure: at most 3 attempts in 2.5 s, where
    // a reload per directory event makes dozens.
    let storm = poll(Duration::from_millis(2500), || proxy.reloads("error") > 3);
    let rounds = scribbler.stop();
    assert!(rounds > 20, "the directory was not busy: {rounds} writes");
    assert!(
        !storm,
        "{} failed reloads in 2.5 s: {:?}",
        proxy.reloads("error"),
        proxy.lines("reload rejected")
    );
    let attempts = proxy.lines("reload rejected");
    assert!(
        attempts
            .iter()
            .all(|l| l.contains("cannot bind") && l.contains("retrying in")),
        "one line per attempt, naming the retry: {attempts:?}"
    );
    assert_eq!(proxy.get(), "a", "the running config keeps serving");
}

#[test]
fn a_rejected_file_is_retried_only_when_it_changes_or_on_sighup_or_post_reload() {
    let mut fakes = Detached::start();
    let (a, b) = (fakes.named("a"), fakes.named("b"));
    let (_dir, path, listen, proxy) = ProcessProxy::serving(BIN, a);
    let scribbler = Scribbler::start(&path, true);

    // A syntax error, then saves of the same bytes over it: rejected once.
    let bad = "listeners: [unclosed\n";
    save(&path, bad);
    assert!(poll(APPLIED, || proxy.reloads("error") >= 1));
    for _ in 0..3 {
        save(&path, bad);
    }
    assert!(
        !poll(Duration::from_secs(1), || proxy.reloads("error") > 1),
        "unchanged rejected bytes were tried again: {:?}",
        proxy.lines("reload rejected")
    );
    proxy.hup();
    assert!(
        poll(APPLIED, || proxy.reloads("error") == 2),
        "SIGHUP did not retry"
    );
    let (status, body) = proxy.admin_request("POST", "/reload");
    assert_eq!(status, 422, "{body}");
    assert_eq!(proxy.reloads("error"), 3);

    // A path that cannot be read at all (a directory): rejected once, not at every
    // event in the directory.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert!(
        poll(APPLIED, || proxy.reloads("error") >= 4),
        "the unreadable path was not reported: {:?}",
        proxy.log()
    );
    assert!(
        !poll(Duration::from_millis(1500), || proxy.reloads("error") > 4),
        "{} failed reloads: the unreadable path was retried at events on other files",
        proxy.reloads("error")
    );
    proxy.hup();
    assert!(
        poll(APPLIED, || proxy.reloads("error") == 5),
        "SIGHUP did not retry"
    );
    scribbler.stop();

    std::fs::remove_dir(&path).unwrap();
    save(&path, &process_config(listen, b));
    assert!(proxy.serves("b", APPLIED), "the good save was not applied");
    assert_eq!(proxy.reloads("error"), 5);
}

#[test]
fn a_failed_bind_is_retried_with_backoff_and_applies_once_the_port_is_free() {
    let mut fakes = Detached::start();
    let a = fakes.named("a");
    let (_dir, path, listen, proxy) = ProcessProxy::serving(BIN, a);
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap();
    save(&path, &with_side_listener(listen, busy, a));
    assert!(
        poll(APPLIED, || proxy.reloads("error") >= 2),
        "the bind failure was not retried: {:?}",
        proxy.lines("reload rejected")
    );
    let attempts = proxy.lines("reload rejected");
    assert!(attempts[0].contains("retrying in 1 s"), "{attempts:?}");
    assert!(attempts[1].contains("retrying in 2 s"), "{attempts:?}");
    // A timer never fires early: the process's own timestamps show the wait.
    let gap = log_seconds(&attempts[1]) - log_seconds(&attempts[0]);
    assert!(
        gap >= 0.95,
        "retried {gap:.3} s after the failure: {attempts:?}"
    );
    assert_eq!(proxy.status()["last_reload"]["trigger"], "retry");

    // The port frees: the next retry applies the file, which nobody touched.
    drop(held);
    assert!(
        poll(Duration::from_secs(10), || blocking::get(busy) == "a"),
        "the retry did not bind the freed port: {:?}",
        proxy.lines("reload")
    );
    assert_eq!(proxy.status()["last_reload"]["result"], "success");
    assert_eq!(proxy.status()["last_reload"]["trigger"], "retry");
    let errors = proxy.reloads("error");
    assert!(
        !poll(Duration::from_millis(1500), || proxy.reloads("error")
            > errors),
        "retries went on after the reload applied"
    );
}
