//! The probe against the testkit's fake backends on 127.0.0.1, with an injected
//! [`TlsClient`]: a pass-through one stands in for a TLS handshake that succeeds (and
//! counts that it was used), a refusing one for a certificate that does not verify, a
//! stalling one for a handshake that never ends. HTTP/2 checks run against the
//! cleartext HTTP/2 echo backend. Every wait is bounded by the check's timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sluicegate_testkit::{Backend, HEALTH_PATH};

use super::*;
use crate::transport::{Handshaking, TlsClient};

/// Generous for a busy machine; every probe below ends far sooner unless it is meant
/// to time out.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A "TLS" client that hands the TCP stream back as it is and counts its handshakes.
#[derive(Debug, Default)]
struct PassThrough {
    handshakes: AtomicUsize,
}

impl TlsClient for PassThrough {
    fn handshake(&self, tcp: TcpStream) -> Handshaking<'_> {
        self.handshakes.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move { Ok(Box::new(tcp) as CheckIo) })
    }

    fn identity(&self) -> String {
        "pass-through".into()
    }
}

/// A client whose handshake fails with `0`, or never ends when `None`.
#[derive(Debug)]
struct Failing(Option<&'static str>);

impl TlsClient for Failing {
    fn handshake(&self, _tcp: TcpStream) -> Handshaking<'_> {
        Box::pin(async move {
            match self.0 {
                Some(why) => Err(why.to_owned()),
                None => std::future::pending().await,
            }
        })
    }

    fn identity(&self) -> String {
        format!("failing {:?}", self.0)
    }
}

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
    let plain = Transport::Plain;
    let passed = probe(backend.addr(), &plain, &http(false), TIMEOUT).await;
    assert_eq!(passed, Ok("status 200".into()));
    assert_eq!(backend.request_lines(), [format!("GET {HEALTH_PATH}")]);
    let connected = probe(backend.addr(), &plain, &Probe::Tcp, TIMEOUT).await;
    assert_eq!(connected, Ok("connected".into()));
}

#[tokio::test]
async fn checks_go_through_the_injected_tls_client() {
    let backend = Backend::echo();
    let client = Arc::new(PassThrough::default());
    let tls = Transport::Tls(client.clone());
    let passed = probe(backend.addr(), &tls, &http(false), TIMEOUT).await;
    assert_eq!(passed, Ok("status 200".into()));
    assert_eq!(client.handshakes.load(Ordering::SeqCst), 1);
    let connected = probe(backend.addr(), &tls, &Probe::Tcp, TIMEOUT).await;
    assert_eq!(connected, Ok("connected, TLS handshake done".into()));
    assert_eq!(client.handshakes.load(Ordering::SeqCst), 2);
    assert_eq!(backend.requests(), 1, "a TCP check sends no request");
}

#[tokio::test]
async fn a_failed_handshake_fails_the_check_with_its_reason_and_sends_nothing() {
    let backend = Backend::echo();
    let why = "certificate verify failed: UnknownIssuer";
    let tls = Transport::Tls(Arc::new(Failing(Some(why))));
    for check in [http(false), http(true), Probe::Tcp] {
        let failed = probe(backend.addr(), &tls, &check, TIMEOUT).await;
        assert_eq!(failed, Err(format!("TLS: {why}")), "{check:?}");
    }
    assert_eq!(backend.requests(), 0);
}

#[tokio::test]
async fn a_stalled_handshake_is_bounded_by_the_check_timeout() {
    let backend = Backend::echo();
    let tls = Transport::Tls(Arc::new(Failing(None)));
    let timeout = Duration::from_millis(200);
    let failed = probe(backend.addr(), &tls, &http(false), timeout).await;
    assert_eq!(failed, Err(format!("timed out after {timeout:?}")));
}

#[tokio::test]
async fn h2_checks_speak_http2_and_http1_checks_do_not_reach_an_h2_backend() {
    let backend = Backend::h2_echo(None, Duration::ZERO);
    let plain = Transport::Plain;
    let passed = probe(backend.addr(), &plain, &http(true), TIMEOUT).await;
    assert_eq!(passed, Ok("status 200".into()));
    assert_eq!(backend.request_lines(), [format!("GET {HEALTH_PATH}")]);
    // What every check of an h2c cluster did before checks followed its protocol.
    let failed = probe(backend.addr(), &plain, &http(false), TIMEOUT).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(backend.requests(), 1);

    let client = Arc::new(PassThrough::default());
    let tls = Transport::Tls(client.clone());
    let passed = probe(backend.addr(), &tls, &http(true), TIMEOUT).await;
    assert_eq!(passed, Ok("status 200".into()));
    assert_eq!(client.handshakes.load(Ordering::SeqCst), 1);
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
    let passed = probe(
        backend.addr(),
        &Transport::Plain,
        &Probe::Http(check.clone()),
        TIMEOUT,
    )
    .await;
    assert_eq!(passed, Ok("status 200".into()));
    assert_eq!(backend.request_lines(), ["HEAD /ready?full=1"]);

    check.h2 = false;
    let h1 = request(&check, backend.addr(), "http").unwrap();
    assert_eq!(h1.uri(), "/ready?full=1");
    assert_eq!(h1.headers()[header::HOST], "api.test");
    assert_eq!(h1.headers()[header::CONNECTION], "close");
}

#[test]
fn transports_are_equal_by_kind_and_tls_identity() {
    let tls = |client: Arc<dyn TlsClient>| Transport::Tls(client);
    assert_eq!(Transport::Plain, Transport::Plain);
    let a = tls(Arc::new(PassThrough::default()));
    assert_eq!(a, tls(Arc::new(PassThrough::default())), "same identity");
    assert_ne!(a, Transport::Plain);
    assert_ne!(a, tls(Arc::new(Failing(Some("no")))));
    assert_ne!(
        tls(Arc::new(Failing(Some("no")))),
        tls(Arc::new(Failing(None)))
    );
}
