//! The helpers of the process-level tests behave as documented, without a tokio
//! runtime: backends hosted on their own thread answer a blocking client and stop
//! when dropped, `localhost` backends answer on every loopback address, and the
//! blocking poll keeps to its deadline.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use sluicegate_testkit::{Backend, Detached, WAIT, blocking, poll};

#[test]
fn hosted_backends_answer_a_blocking_client_and_stop_when_dropped() {
    let mut fakes = Detached::start();
    let named = fakes.named("a");
    let slow = fakes.host(|| Backend::slow(Duration::from_millis(20)));
    assert_eq!(blocking::get(named), "a");
    assert_eq!(
        blocking::get(named),
        "a",
        "a second request is answered too"
    );
    assert_eq!(
        blocking::request(named, "GET", "/status/418", "X-Test: 1\r\n"),
        (418, "a".to_owned())
    );
    assert_eq!(
        blocking::request(slow, "POST", "/", ""),
        (200, "slow".to_owned())
    );

    let started = Instant::now();
    drop(fakes);
    assert!(
        started.elapsed() < WAIT,
        "dropping took {:?}",
        started.elapsed()
    );
    assert_eq!(blocking::get(named), "", "a dropped backend still answers");
    assert_eq!(blocking::request(slow, "GET", "/", ""), (0, String::new()));
}

#[test]
fn a_localhost_backend_answers_on_every_loopback_address() {
    let mut fakes = Detached::start();
    let port = fakes.localhost("l");
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert_eq!(blocking::get(v4), "l");
    let has_ipv6 = std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    if has_ipv6 {
        let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        assert_eq!(blocking::get(v6), "l");
    }
}

#[test]
fn poll_holds_to_its_deadline() {
    let started = Instant::now();
    assert!(!poll(Duration::from_millis(100), || false));
    assert!(started.elapsed() >= Duration::from_millis(100));
    let mut checks = 0;
    assert!(poll(WAIT, || {
        checks += 1;
        checks == 3
    }));
    assert_eq!(checks, 3);
}
