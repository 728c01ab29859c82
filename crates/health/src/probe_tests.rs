//! The probe against the testkit's fake backends on 127.0.0.1: HTTP/1.1 and TCP
//! checks as before, HTTP/2 checks against the cleartext HTTP/2 echo backend. Every
//! wait is bounded by the check's timeout.

use sluicegate_testkit::{Backend, HEALTH_PATH};

use super::*;

/// Generous for a busy machine; every probe below ends far sooner.
const TIMEOUT: Duration = Duration::from_secs(5);

fn http(h2: bool) -> Probe {
    Probe::Http(HttpProbe {
        path: HEALTH_PATH.into(),
        method: http::Method::GET,
        host: None,
        expect: vec![(200, 399)],
        h2,
    })
}

#[tokio::test]
async fn plain_http1_and_tcp_checks_pass_as_before() {
    let backend = Backend::echo();
    let passed = probe(backend.addr(), &http(false), TIMEOUT).await;
    assert_eq!(passed, Ok("status 200".into()));
    assert_eq!(backend.request_lines(), [format!("GET {HEALTH_PATH}")]);
    let connected = probe(backend.addr(), &Probe::Tcp, TIMEOUT).await;
    assert_eq!(connected, Ok("connected".into()));
}

#[tokio::test]
async fn h2_checks_speak_http2_and_http1_checks_do_not_reach_an_h2_backend() {
    let backend = Backend::h2_echo(None, Duration::ZERO);
    let passed = probe(backend.addr(), &http(true), TIMEOUT).await;
    assert_eq!(passed, Ok("status 200".into()));
    assert_eq!(backend.request_lines(), [format!("GET {HEALTH_PATH}")]);
    // What every check of an h2c cluster did before checks followed its protocol.
    let failed = probe(backend.addr(), &http(false), TIMEOUT).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(backend.requests(), 1);
}

#[tokio::test]
async fn h2_checks_send_the_configured_host_as_the_authority() {
    let backend = Backend::h2_echo(None, Duration::ZERO);
    let mut check = HttpProbe {
        path: "/ready?full=1".into(),
        method: http::Method::HEAD,
        host: Some("api.test".into()),
        expect: vec![(200, 200)],
        h2: true,
    };
    let h2 = request(&check, backend.addr(), "https").unwrap();
    assert_eq!(h2.uri(), "https://api.test/ready?full=1");
    assert!(h2.headers().get(header::HOST).is_none());
    assert!(h2.headers().get(header::CONNECTION).is_none());
    let passed = probe(backend.addr(), &Probe::Http(check.clone()), TIMEOUT).await;
    assert_eq!(passed, Ok("status 200".into()));
    assert_eq!(backend.request_lines(), ["HEAD /ready?full=1"]);

    check.h2 = false;
    let h1 = request(&check, backend.addr(), "http").unwrap();
    assert_eq!(h1.uri(), "/ready?full=1");
    assert_eq!(h1.headers()[header::HOST], "api.test");
    assert_eq!(h1.headers()[header::CONNECTION], "close");
}
