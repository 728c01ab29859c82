//! Failed reloads: a rejected file is remembered and not retried until it changes or
//! an explicit reload asks.

use crate::common::*;

use std::time::Duration;

#[test]
fn a_rejected_file_is_retried_only_when_it_changes_or_on_sighup_or_post_reload() {
    let (a, b) = (backend("a"), backend("b"));
    let (_dir, path, listen, proxy) = serving(a);
    let scribbler = Scribbler::start(&path, true);

    // A syntax error, then saves of the same bytes: rejected once.
    let bad = "listeners: [unclosed\n";
    std::fs::write(&path, bad).unwrap();
    assert!(poll(APPLIED, || proxy.reloads("error") >= 1));
    for _ in 0..3 {
        std::fs::write(&path, bad).unwrap();
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
        proxy.log.lock().unwrap()
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
    std::fs::write(&path, config(listen, b)).unwrap();
    assert!(proxy.serves("b", APPLIED), "the good save was not applied");
    assert_eq!(proxy.reloads("error"), 5);
}
