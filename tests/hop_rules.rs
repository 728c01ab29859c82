//! What a client cannot do to the request head the backend receives, over raw sockets
//! to the echo backend: naming a field in `Connection` never removes what defines the
//! request or what sluicegate sets; an absolute-form target with userinfo or another
//! scheme is refused; an HTTP/1.0 request without `Host` gets the listener's address.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use sluicegate_testkit::client::raw_exchange;
use sluicegate_testkit::{Backend, Echoed, Proxy, init_tracing, single_cluster, start_proxy};

/// What the echo backend received for `request`, which must have been answered 200.
async fn echoed(proxy: &Proxy, request: &str) -> Echoed {
    let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "answer: {answer:?}");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // The echo streams its answer chunked: keep the text of the chunks only.
    let text: String = body
        .split("\r\n")
        .skip(1)
        .step_by(2)
        .collect::<Vec<_>>()
        .join("");
    Echoed::parse(&text)
}

/// Fields sluicegate sets or that frame the request: never hop-by-hop by request.
const PROTECTED: [&str; 7] = [
    "host",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "x-request-id",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_cannot_remove_what_defines_the_request() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    for name in PROTECTED {
        let request = format!(
            "POST /p HTTP/1.1\r\nHost: front.example\r\nX-Forwarded-Host: evil.example\r\n\
             Connection: close, {name}\r\nContent-Length: 5\r\n\r\nhello"
        );
        let seen = echoed(&proxy, &request).await;
        assert!(
            !seen.all(name).is_empty(),
            "{name} was removed: {:?}",
            seen.headers
        );
        assert_eq!(seen.one("host"), "front.example", "named {name}");
        assert_eq!(
            seen.one("x-forwarded-host"),
            "front.example",
            "named {name}"
        );
        assert!(
            seen.body.ends_with("hello"),
            "named {name}: {:?}",
            seen.body
        );
    }
    // An ordinary field named there is still hop-by-hop.
    let request = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, x-hop\r\nX-Hop: 1\r\n\r\n";
    assert!(echoed(&proxy, request).await.all("x-hop").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_targets_with_userinfo_or_another_scheme_are_refused() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    for target in [
        "http://user:pw@front.example/",
        "http://user@front.example/",
        "ftp://front.example/",
        "gopher://front.example/",
    ] {
        let request =
            format!("GET {target} HTTP/1.1\r\nHost: front.example\r\nConnection: close\r\n\r\n");
        let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{target}: {answer:?}");
        assert!(
            !answer.contains("user@") && !answer.contains("pw@"),
            "{target}: {answer:?}"
        );
    }
    assert_eq!(echo.requests(), 0, "a refused request reached the backend");
    let ok = "GET http://front.example/x HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n";
    let seen = echoed(&proxy, ok).await;
    assert_eq!(seen.one("host"), "front.example");
    assert_eq!(seen.request_line, "GET /x HTTP/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_without_host_gets_the_listeners_address_not_the_backends() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let answer = raw_exchange(proxy.addr(), b"GET /old HTTP/1.0\r\n\r\n").await;
    assert!(answer.contains(" 200 "), "answer: {answer:?}");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let seen = Echoed::parse(body);
    let listener = proxy.addr().to_string();
    assert_eq!(seen.one("host"), listener, "{:?}", seen.headers);
    assert_eq!(seen.one("x-forwarded-host"), listener);
    assert_ne!(seen.one("host"), echo.addr().to_string());
}
