//! TLS termination through the proxy: the certificate chosen by SNI, ALPN for h2 and
//! HTTP/1.1, `X-Forwarded-Proto: https`, stalled handshakes that delay nobody,
//! certificates replaced on disk under open connections, a bad pair kept out; and
//! TLS to backends (`clusters.*.tls`): verified against a CA file, refused with the
//! cause when it does not verify, HTTP/2 by ALPN.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::SocketAddr;
use std::path::Path;

use http::Request;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use sluicegate_testkit::client::{empty, read_text};
use sluicegate_testkit::{
    APPLIED, Backend, Echoed, H2Conn, TestCert, WAIT, eventually_async, init_tracing, start_proxy,
    tls_connect, within,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A proxy config: listener `https` on TLS with `certs` (`(cert, key)` paths, the
/// default one first) in front of cluster `app`, whose extra keys are `cluster`.
fn config(certs: &[(String, String)], backend: SocketAddr, cluster: &str) -> String {
    let pairs: Vec<String> = certs
        .iter()
        .map(|(c, k)| format!("        - {{ cert: {c}, key: {k} }}\n"))
        .collect();
    format!(
        "listeners:\n  https:\n    address: 127.0.0.1:0\n    tls:\n      certificates:\n{}    routes:\n      - cluster: app\n\
         clusters:\n  app:\n{cluster}    backends:\n      - address: {backend}\n",
        pairs.concat()
    )
}

fn paths(dir: &Path, cert: &TestCert, name: &str) -> (String, String) {
    let (c, k) = cert.write(dir, name);
    (c.display().to_string(), k.display().to_string())
}

/// `GET path` over HTTP/1.1 on an established stream; the response as text.
async fn get_over<S>(stream: S, host: &str, path: &str) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    within(WAIT, &format!("GET {path} over TLS"), async {
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        let request = Request::get(path)
            .header("host", host)
            .body(empty())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let (status, _, text) = read_text(response).await.unwrap();
        (status.as_u16(), text)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sni_picks_the_exact_name_then_the_wildcard_then_the_default() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let default = TestCert::new(&["default.test", "127.0.0.1"]);
    let exact = TestCert::new(&["api.example.com"]);
    let wildcard = TestCert::new(&["*.example.com"]);
    let certs = [
        paths(dir.path(), &default, "default"),
        paths(dir.path(), &wildcard, "wildcard"),
        paths(dir.path(), &exact, "exact"),
    ];
    let echo = Backend::echo();
    let proxy = start_proxy(&config(&certs, echo.addr(), "")).await;
    let all = [&default, &exact, &wildcard];
    let addr = proxy.addr();
    let served =
        |sni: &'static str| async move { tls_connect(addr, sni, &[], &all).await.unwrap().leaf };
    assert_eq!(served("api.example.com").await, exact.der);
    assert_eq!(served("www.example.com").await, wildcard.der);
    // An IP literal sends no SNI: the default certificate.
    assert_eq!(served("127.0.0.1").await, default.der);
    // The wildcard covers one label only: a deeper name is the default's, which
    // does not cover it, so the handshake fails verification.
    assert!(
        tls_connect(proxy.addr(), "a.b.example.com", &[], &all)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpn_selects_h2_or_http1_and_backends_learn_https() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&["api.example.com"]);
    let echo = Backend::echo();
    let proxy = start_proxy(&config(&[paths(dir.path(), &cert, "api")], echo.addr(), "")).await;
    let h1 = tls_connect(proxy.addr(), "api.example.com", &[b"http/1.1"], &[&cert])
        .await
        .unwrap();
    assert_eq!(h1.alpn.as_deref(), Some(&b"http/1.1"[..]));
    let (status, text) = get_over(h1.stream, "api.example.com", "/one").await;
    assert_eq!(status, 200, "{text}");
    let echoed = Echoed::parse(&text);
    assert_eq!(echoed.one("x-forwarded-proto"), "https");
    assert_eq!(echoed.one("host"), "api.example.com");

    let offered: &[&[u8]] = &[b"h2", b"http/1.1"];
    let h2 = tls_connect(proxy.addr(), "api.example.com", offered, &[&cert])
        .await
        .unwrap();
    assert_eq!(h2.alpn.as_deref(), Some(&b"h2"[..]));
    let conn = H2Conn::over(TokioIo::new(h2.stream), "api.example.com", "https")
        .await
        .unwrap();
    let (status, _, text) = conn.get("/two").await;
    assert_eq!(status, 200, "{text}");
    let echoed = Echoed::parse(&text);
    assert_eq!(echoed.request_line, "GET /two HTTP/1.1");
    assert_eq!(echoed.one("x-forwarded-proto"), "https");
    assert_eq!(echoed.one("host"), "api.example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_stalled_handshakes_do_not_delay_a_normal_one() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&["api.example.com"]);
    let echo = Backend::echo();
    let proxy = start_proxy(&config(&[paths(dir.path(), &cert, "api")], echo.addr(), "")).await;
    let mut stalled = Vec::with_capacity(200);
    for _ in 0..200 {
        let mut tcp = TcpStream::connect(proxy.addr()).await.unwrap();
        // The first byte of a TLS record (handshake), then nothing.
        tcp.write_all(&[0x16]).await.unwrap();
        stalled.push(tcp);
    }
    let served = tls_connect(proxy.addr(), "api.example.com", &[], &[&cert])
        .await
        .unwrap();
    let (status, text) = get_over(served.stream, "api.example.com", "/").await;
    assert_eq!(status, 200, "{text}");
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_is_served_to_new_handshakes_while_open_ones_continue() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let old = TestCert::new(&["api.example.com"]);
    let new = TestCert::new(&["api.example.com"]);
    let echo = Backend::echo();
    let certs = [paths(dir.path(), &old, "api")];
    let proxy = start_proxy(&config(&certs, echo.addr(), "")).await;
    let offered: &[&[u8]] = &[b"h2"];
    let open = tls_connect(proxy.addr(), "api.example.com", offered, &[&old])
        .await
        .unwrap();
    let open = H2Conn::over(TokioIo::new(open.stream), "api.example.com", "https")
        .await
        .unwrap();
    assert_eq!(open.get("/before").await.0, 200);

    // An editor's save: write beside, then rename over (key first, then the chain).
    let staged = dir.path().join("staging");
    std::fs::create_dir(&staged).unwrap();
    let (c, k) = new.write(&staged, "api");
    std::fs::rename(k, dir.path().join("api.key")).unwrap();
    std::fs::rename(c, dir.path().join("api.pem")).unwrap();
    let both = [&old, &new];
    let swapped = eventually_async(APPLIED, || async {
        tls_connect(proxy.addr(), "api.example.com", &[], &both)
            .await
            .is_ok_and(|s| s.leaf == new.der)
    })
    .await;
    assert!(swapped, "new handshakes still get the old certificate");
    assert_eq!(open.get("/after").await.0, 200, "the open connection broke");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_with_a_key_that_does_not_match_is_rejected_and_the_old_pair_serves() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&["api.example.com"]);
    let other = TestCert::new(&["api.example.com"]);
    let echo = Backend::echo();
    let good = paths(dir.path(), &cert, "api");
    let proxy = start_proxy(&config(std::slice::from_ref(&good), echo.addr(), "")).await;
    let (_, other_key) = paths(dir.path(), &other, "other");
    let mismatched = (good.0.clone(), other_key.clone());
    let errors = proxy
        .rejected(&config(&[mismatched], echo.addr(), ""))
        .await;
    assert_eq!(
        errors,
        format!(
            "listeners.https.tls.certificates[0].key: the key in {other_key} does not match the certificate in {}",
            good.0
        )
    );
    let served = tls_connect(proxy.addr(), "api.example.com", &[], &[&cert])
        .await
        .unwrap();
    assert_eq!(served.leaf, cert.der);
}

/// A proxy with a cleartext listener in front of cluster `app` (keys `cluster`).
fn upstream_config(backend: SocketAddr, cluster: &str) -> String {
    format!(
        "listeners:\n  main:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n{cluster}    backends:\n      - address: {backend}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_over_tls_are_verified_against_the_configured_ca() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&["backend.test"]);
    let (ca, _) = paths(dir.path(), &cert, "backend");
    let backend = Backend::tls_echo(&cert, false);
    let verified = format!("    tls: {{ sni: backend.test, ca: {ca} }}\n");
    let proxy = start_proxy(&upstream_config(backend.addr(), &verified)).await;
    let (status, _, text) = sluicegate_testkit::get(proxy.addr(), "/x", &[]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(Echoed::parse(&text).request_line, "GET /x HTTP/1.1");

    // The system's roots do not know the test certificate: 502 with the cause.
    let unknown = "    tls: { sni: backend.test }\n".to_owned();
    proxy
        .apply(&upstream_config(backend.addr(), &unknown))
        .await;
    let (status, _, text) = sluicegate_testkit::get(proxy.addr(), "/x", &[]).await;
    assert_eq!(status, 502, "{text}");
    assert!(
        text.contains("certificate verify failed: UnknownIssuer"),
        "{text}"
    );

    // verify: false accepts it.
    let unverified = "    tls: { verify: false }\n".to_owned();
    proxy
        .apply(&upstream_config(backend.addr(), &unverified))
        .await;
    let (status, _, text) = sluicegate_testkit::get(proxy.addr(), "/x", &[]).await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_to_backends_goes_over_tls_by_alpn() {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let cert = TestCert::new(&["backend.test"]);
    let (ca, _) = paths(dir.path(), &cert, "backend");
    let backend = Backend::tls_echo(&cert, true);
    let keys = format!("    upstream_protocol: h2\n    tls: {{ sni: backend.test, ca: {ca} }}\n");
    let proxy = start_proxy(&upstream_config(backend.addr(), &keys)).await;
    for i in 0..3 {
        let (status, _, text) = sluicegate_testkit::get(proxy.addr(), &format!("/{i}"), &[]).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(
            Echoed::parse(&text).request_line,
            format!("GET /{i} HTTP/2.0")
        );
    }
    assert_eq!(backend.accepts(), 1, "one multiplexed connection");
    // A backend that speaks only HTTP/1.1 does not agree to h2: 502 saying so
    // (rustls's server refuses the handshake when no protocol is common).
    let h1_only = Backend::tls_echo(&cert, false);
    proxy.apply(&upstream_config(h1_only.addr(), &keys)).await;
    let (status, _, text) = sluicegate_testkit::get(proxy.addr(), "/", &[]).await;
    assert_eq!(status, 502, "{text}");
    assert!(
        text.contains("(TLS: handshake failed: received fatal alert: NoApplicationProtocol)"),
        "{text}"
    );
}
