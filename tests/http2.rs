//! HTTP/2 from clients: cleartext with prior knowledge (h2c) to HTTP/1 backends, many
//! streams on one connection, HTTP/1 on the same listener unaffected, and the
//! `:authority` and `:scheme` rules.

use http::Method;
use sluicegate_testkit::client::empty;
use sluicegate_testkit::{
    Backend, Echoed, H2Conn, WAIT, get, init_tracing, single_cluster, start_proxy, within,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_with_prior_knowledge_reaches_an_http1_backend_as_http1() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let h2 = H2Conn::open(proxy.addr()).await.unwrap();
    let (status, _, text) = h2.get("/over/h2?q=1").await;
    assert_eq!(status, 200, "{text}");
    let echoed = Echoed::parse(&text);
    assert_eq!(echoed.request_line, "GET /over/h2?q=1 HTTP/1.1");
    assert_eq!(
        echoed.one("host"),
        proxy.addr().to_string(),
        "{:?}",
        echoed.headers
    );
    assert_eq!(echoed.one("x-forwarded-proto"), "http");
    // HTTP/1 clients on the same listener are served as before.
    let (status, _, text) = get(proxy.addr(), "/over/h1", &[]).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(Echoed::parse(&text).request_line, "GET /over/h1 HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_split_over_h2_fields_reach_an_http1_backend_as_one_field() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let h2 = H2Conn::open(proxy.addr()).await.unwrap();
    let mut request = h2.request(Method::GET, "/c", empty());
    for cookie in ["a=1", "b=2", "c=3"] {
        let value = http::HeaderValue::from_static(cookie);
        request.headers_mut().append(http::header::COOKIE, value);
    }
    let response = h2.send(request).await.unwrap();
    let (_, text) = sluicegate_testkit::client::read_text(response)
        .await
        .map(|(status, _, text)| (status, text))
        .unwrap();
    // RFC 9113 §8.2.3: joined with "; " for a non-HTTP/2 hop (H2-11).
    assert_eq!(
        Echoed::parse(&text).all("cookie"),
        ["a=1; b=2; c=3"],
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_header_list_gets_the_http1_head_limit() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let h2 = H2Conn::open(proxy.addr()).await.unwrap();
    let with_header = |size: usize| {
        let mut request = h2.request(Method::GET, "/big", empty());
        let value = http::HeaderValue::from_str(&"v".repeat(size)).unwrap();
        request.headers_mut().insert("x-big", value);
        request
    };
    // 40 KiB: past hyper's 16 KiB default, within the 64 KiB an HTTP/1 head may have.
    let response = h2.send(with_header(40 * 1024)).await.unwrap();
    assert_eq!(response.status(), 200);
    let (_, _, text) = sluicegate_testkit::client::read_text(response)
        .await
        .unwrap();
    assert_eq!(Echoed::parse(&text).one("x-big").len(), 40 * 1024);
    // 100 KiB: refused, never forwarded (h2 answers 431 or resets the stream).
    let h2 = H2Conn::open(proxy.addr()).await.unwrap();
    let mut request = h2.request(Method::GET, "/huge", empty());
    let value = http::HeaderValue::from_str(&"v".repeat(100 * 1024)).unwrap();
    request.headers_mut().insert("x-big", value);
    match h2.send(request).await {
        Ok(response) => assert_eq!(response.status(), 431),
        Err(error) => assert!(!error.is_empty()),
    }
    assert_eq!(
        echo.requests(),
        1,
        "the oversized request reached the backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_streams_share_one_client_connection() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let h2 = H2Conn::open(proxy.addr()).await.unwrap();
    let mut streams = tokio::task::JoinSet::new();
    for i in 0..200 {
        let h2 = h2.clone();
        streams.spawn(async move {
            let (status, _, text) = h2.get(&format!("/stream/{i}")).await;
            (i, status, text)
        });
    }
    let answers = within(WAIT, "200 streams", streams.join_all()).await;
    assert_eq!(answers.len(), 200);
    for (i, status, text) in answers {
        assert_eq!(status, 200, "stream {i}: {text}");
        let line = Echoed::parse(&text).request_line;
        assert_eq!(line, format!("GET /stream/{i} HTTP/1.1"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_scheme_on_cleartext_is_refused() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let addr = proxy.addr();
    let h2 = H2Conn::open_as(addr, "https").await.unwrap();
    let response = h2
        .send(h2.request(Method::GET, "/", empty()))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(echo.requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_connection_without_requests_for_the_keepalive_timeout_is_closed() {
    init_tracing();
    let echo = Backend::echo();
    let yaml = single_cluster(&[&echo], &[]).replace(
        "    address: 127.0.0.1:0\n",
        "    address: 127.0.0.1:0\n    keepalive_timeout: 800ms\n",
    );
    let proxy = start_proxy(&yaml).await;
    let busy = H2Conn::open(proxy.addr()).await.unwrap();
    let idle = H2Conn::open(proxy.addr()).await.unwrap();
    assert_eq!(idle.get("/once").await.0, 200);
    // One connection keeps asking, every 100 ms, for longer than the timeout.
    let started = tokio::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_millis(2000) {
        assert_eq!(
            busy.get("/again").await.0,
            200,
            "the busy connection was closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let closed = sluicegate_testkit::eventually(WAIT, || idle.is_closed()).await;
    assert!(closed, "the idle connection is still open");
    assert!(!busy.is_closed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trailers_from_an_http1_backend_reach_an_http2_client() {
    use http_body_util::BodyExt;
    init_tracing();
    let backend = Backend::replying(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-checksum\r\n\r\n\
          5\r\nhello\r\n0\r\nx-checksum: abc\r\n\r\n",
    );
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let client = H2Conn::open(proxy.addr()).await.unwrap();
    // Without a body (the in-task client reads the backend) and with one (hyper's).
    for method in [Method::GET, Method::POST] {
        let body = if method == Method::GET {
            empty()
        } else {
            sluicegate_testkit::client::body(http_body_util::Full::new(bytes::Bytes::from("hi")))
        };
        let response = client.send(client.request(method.clone(), "/", body)).await;
        let collected = response.unwrap().into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned();
        assert_eq!(collected.to_bytes(), "hello", "{method}");
        let checksum = trailers.as_ref().and_then(|t| t.get("x-checksum"));
        assert_eq!(
            checksum.map(|v| v.as_bytes()),
            Some(&b"abc"[..]),
            "{method}: {trailers:?}"
        );
    }
}
