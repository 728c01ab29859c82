//! The fake backends behave as documented when talked to directly, so a proxy test
//! that fails points at the proxy, not at its fixtures.

use std::io::ErrorKind;

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use sluicegate_testkit::client::{body, exchange, raw_exchange, request};
use sluicegate_testkit::{
    Backend, Conn, WAIT, eventually, eventually_async, get, init_tracing, pattern_digest, try_get,
};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_answers_its_name_status_and_delay() {
    init_tracing();
    let backend = Backend::named("b1");
    let (status, _, text) = get(backend.addr(), "/any/path?x=1", &[]).await;
    assert_eq!((status.as_u16(), text.as_str()), (200, "b1"));
    let (status, _, text) = get(backend.addr(), "/status/418", &[]).await;
    assert_eq!((status.as_u16(), text.as_str()), (418, "b1"));
    let (status, _, text) = get(backend.addr(), "/slow?ms=20", &[]).await;
    assert_eq!((status.as_u16(), text.as_str()), (200, "b1"));
    assert_eq!((backend.requests(), backend.accepts()), (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_reports_the_request_and_streams_the_body_back() {
    init_tracing();
    let backend = Backend::echo();
    let addr = backend.addr();
    let payload = body(Full::new(Bytes::from_static(b"payload")));
    let sent = request(Method::POST, addr, "/p?q=1", &[("x-a", "1")], payload);
    let (status, headers, text) = exchange(addr, sent).await.expect("echo");
    assert_eq!(status, 200);
    assert_eq!(headers["x-resp-hop"], "1");
    let expected_head =
        format!("POST /p?q=1 HTTP/1.1\nx-a: 1\nhost: {addr}\ncontent-length: 7\n\n");
    assert_eq!(text, format!("{expected_head}payload"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_digests_uploads_and_generates_downloads() {
    init_tracing();
    let backend = Backend::sink();
    let addr = backend.addr();
    let pattern = sluicegate_testkit::PatternBody::chunked(200_000);
    let sent = request(Method::POST, addr, "/", &[], body(pattern));
    let (status, _, text) = exchange(addr, sent).await.expect("upload");
    assert_eq!((status.as_u16(), text), (200, pattern_digest(200_000)));

    let mut conn = Conn::open(addr).await.expect("connect");
    let sent = request(
        Method::GET,
        addr,
        "/download?bytes=100001",
        &[],
        body(http_body_util::Empty::new()),
    );
    let response = conn.send(sent).await.expect("download");
    assert_eq!(response.headers()["content-length"], "100001");
    let digest = sluicegate_testkit::client::read_digest(response)
        .await
        .expect("body");
    assert_eq!(digest, pattern_digest(100_001));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusing_and_dropped_backends_refuse_connections() {
    init_tracing();
    let refusing = Backend::refusing();
    let error = TcpStream::connect(refusing.addr())
        .await
        .expect_err("nothing listens");
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);

    let named = Backend::named("gone");
    let addr = named.addr();
    assert_eq!(get(addr, "/", &[]).await.0, 200);
    drop(named);
    // The abort is processed by the runtime, so the listener closes soon, not at once.
    let refused = eventually_async(WAIT, || async move {
        matches!(TcpStream::connect(addr).await, Err(e) if e.kind() == ErrorKind::ConnectionRefused)
    });
    assert!(
        refused.await,
        "the dropped backend still accepts connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalling_accepts_and_never_answers() {
    init_tracing();
    let backend = Backend::stalling();
    let _held = TcpStream::connect(backend.addr()).await.expect("connect");
    assert!(eventually(WAIT, || backend.accepts() == 1).await);
    let mut conn = Conn::open(backend.addr()).await.expect("connect");
    let sent = request(
        Method::GET,
        backend.addr(),
        "/",
        &[],
        sluicegate_testkit::client::empty(),
    );
    let waited = tokio::time::timeout(std::time::Duration::from_millis(200), conn.send(sent)).await;
    assert!(waited.is_err(), "a stalling backend answered: {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaky_closes_the_first_requests_then_answers() {
    init_tracing();
    let backend = Backend::flaky(2);
    assert!(try_get(backend.addr(), "/", &[]).await.is_err());
    assert!(try_get(backend.addr(), "/", &[]).await.is_err());
    let mut conn = Conn::open(backend.addr()).await.expect("connect");
    for _ in 0..3 {
        let (status, _, text) = conn.get("/", &[]).await;
        assert_eq!((status.as_u16(), text.as_str()), (200, "ok"));
    }
    assert_eq!((backend.requests(), backend.accepts()), (5, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_answers_non_http() {
    init_tracing();
    let backend = Backend::garbage();
    let answer = raw_exchange(backend.addr(), b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert_eq!(answer, "not http\r\n\r\n");
    assert!(try_get(backend.addr(), "/", &[]).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_and_short_keep_alive_close_their_connections() {
    init_tracing();
    let closing = Backend::closing();
    let mut conn = Conn::open(closing.addr()).await.expect("connect");
    assert_eq!(conn.get("/", &[]).await.2, "ok");
    assert!(
        eventually(WAIT, || conn.is_closed()).await,
        "closing kept the connection"
    );

    let short = Backend::short_keep_alive("s", std::time::Duration::from_millis(50));
    let mut conn = Conn::open(short.addr()).await.expect("connect");
    assert_eq!(conn.get("/", &[]).await.2, "s");
    assert!(
        eventually(WAIT, || conn.is_closed()).await,
        "the idle connection stayed open"
    );
    assert_eq!(short.closed(), 1);
}
