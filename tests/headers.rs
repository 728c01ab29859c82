//! Header rewriting at the proxy hop, seen from both ends through the echo backend:
//! hop-by-hop fields removed both ways, `X-Forwarded-*` set, `Host` kept. Trusted
//! proxies and request ids: `identity.rs`.

use std::net::SocketAddr;

use bytes::Bytes;
use http::Method;
use http_body_util::Full;
use sluicegate_testkit::client::{TextResponse, body, exchange, request};
use sluicegate_testkit::{
    Backend, ECHO_END_TO_END_HEADER, ECHO_HOP_HEADERS, Echoed as Received, get, init_tracing,
    single_cluster, start_proxy,
};

/// Request fields that describe the client's connection to the proxy only.
const CLIENT_HOP_HEADERS: [(&str, &str); 6] = [
    ("connection", "keep-alive, X-Custom-Hop"),
    ("x-custom-hop", "1"),
    ("keep-alive", "timeout=5"),
    ("te", "trailers"),
    ("proxy-connection", "keep-alive"),
    ("upgrade", "websocket"),
];

const FRONT_HOST: &str = "front.example.com:8080";

async fn send_with_hop_headers(addr: SocketAddr) -> Received {
    let mut headers = vec![
        ("host", FRONT_HOST),
        ("x-forwarded-for", "203.0.113.7"),
        ("x-end-to-end", "kept"),
    ];
    headers.extend(CLIENT_HOP_HEADERS);
    let (status, _, text) = get(addr, "/path?q=1", &headers).await;
    assert_eq!(status, 200, "{text}");
    Received::parse(&text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_hop_by_hop_fields_never_reach_the_backend() {
    init_tracing();
    let echo = Backend::echo();
    // Control: sent straight to the backend, every field arrives, so the client
    // really sends them and the echo really reports them.
    let direct = send_with_hop_headers(echo.addr()).await;
    for (name, _) in CLIENT_HOP_HEADERS {
        assert!(
            !direct.all(name).is_empty(),
            "the control lost {name}: {:?}",
            direct.headers
        );
    }

    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let received = send_with_hop_headers(proxy.addr()).await;
    for (name, _) in CLIENT_HOP_HEADERS {
        assert!(
            received.all(name).is_empty(),
            "{name} reached the backend: {:?}",
            received.headers
        );
    }
    assert_eq!(received.request_line, "GET /path?q=1 HTTP/1.1");
    assert_eq!(received.one("x-end-to-end"), "kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_fields_are_set_and_host_is_kept() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let received = send_with_hop_headers(proxy.addr()).await;
    assert_eq!(received.one("host"), FRONT_HOST);
    // The client is not a trusted proxy: what it claims is replaced, not appended to.
    assert_eq!(received.one("x-forwarded-for"), "127.0.0.1");
    assert_eq!(received.one("x-real-ip"), "127.0.0.1");
    assert_eq!(received.one("x-forwarded-proto"), "http");
    assert_eq!(received.one("x-forwarded-host"), FRONT_HOST);

    let (_, _, text) = get(proxy.addr(), "/", &[]).await;
    let plain = Received::parse(&text);
    assert_eq!(plain.one("x-forwarded-for"), "127.0.0.1");
    assert_eq!(plain.one("host"), proxy.addr().to_string());
    assert_eq!(plain.one("x-forwarded-host"), proxy.addr().to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_hop_by_hop_fields_never_reach_the_client() {
    init_tracing();
    let echo = Backend::echo();
    let (_, direct, _) = get(echo.addr(), "/", &[]).await;
    for (name, value) in ECHO_HOP_HEADERS {
        assert_eq!(
            direct[name], value,
            "control: the echo backend must send {name}"
        );
    }

    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let (status, headers, _) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(status, 200);
    assert!(!headers.contains_key("x-resp-hop"), "{headers:?}");
    assert!(!headers.contains_key("keep-alive"), "{headers:?}");
    for connection in headers.get_all("connection") {
        let text = connection.to_str().unwrap_or_default().to_ascii_lowercase();
        assert!(!text.contains("x-resp-hop"), "{headers:?}");
    }
    let (name, value) = ECHO_END_TO_END_HEADER;
    assert_eq!(
        headers[name], value,
        "end-to-end fields must pass: {headers:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_target_and_body_reach_the_backend_unchanged() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let addr = proxy.addr();
    let payload = Full::new(Bytes::from_static(b"hello, backend"));
    let sent = request(Method::PUT, addr, "/items/7?x=%20y&z", &[], body(payload));
    let (status, _, text): TextResponse =
        exchange(addr, sent).await.expect("PUT through the proxy");
    assert_eq!(status, 200, "{text}");
    let received = Received::parse(&text);
    assert_eq!(received.request_line, "PUT /items/7?x=%20y&z HTTP/1.1");
    assert_eq!(received.one("content-length"), "14");
    assert_eq!(received.body, "hello, backend");
    // A request with a body goes on hyper's client, which gets the proxy's added
    // fields merged into its map: each arrives once, as on the in-task client.
    assert_eq!(received.one("x-forwarded-for"), "127.0.0.1");
    assert_eq!(received.one("x-real-ip"), "127.0.0.1");
    assert_eq!(received.one("x-forwarded-proto"), "http");
    assert!(!received.one("x-request-id").is_empty());
    assert!(received.one("via").starts_with("1.1 sluicegate-"));
}
