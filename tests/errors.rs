//! What a client gets when the backend fails or the request is malformed: the status
//! and a body saying what happened, without the backend's address.

use sluicegate_testkit::client::raw_exchange;
use sluicegate_testkit::{Backend, get, init_tracing, single_cluster, start_proxy};

/// Sends `GET /` through a proxy whose only backend is `backend`, with these extra
/// cluster keys; checks the status and that the body contains `says` and does not
/// reveal the backend's address.
async fn answer_for(backend: &Backend, cluster_keys: &[(&str, &str)], status: u16, says: &str) {
    let proxy = start_proxy(&single_cluster(&[backend], cluster_keys)).await;
    let (got, headers, body) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(got, status, "body: {body}");
    assert!(body.contains(says), "expected {says:?} in {body:?}");
    assert!(
        body.contains("\"app\""),
        "the body should name the cluster: {body:?}"
    );
    let port = backend.addr().port().to_string();
    assert!(
        !body.contains(&port),
        "the body reveals the backend address: {body:?}"
    );
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connection_is_502_could_not_connect() {
    init_tracing();
    let backend = Backend::refusing();
    answer_for(&backend, &[], 502, "could not connect").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_backend_is_504_after_the_response_timeout() {
    init_tracing();
    let backend = Backend::stalling();
    answer_for(
        &backend,
        &[("response_timeout", "300ms")],
        504,
        "did not respond",
    )
    .await;
    assert_eq!(backend.accepts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_http_answer_is_502_invalid_response() {
    init_tracing();
    let backend = Backend::garbage();
    answer_for(&backend, &[], 502, "invalid response").await;
    assert_eq!(backend.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_closed_without_answer_is_502_then_the_backend_recovers() {
    init_tracing();
    let backend = Backend::flaky(1);
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let (status, _, body) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(status, 502, "body: {body}");
    assert!(body.contains("closed the connection"), "body: {body:?}");
    let (status, _, body) = get(proxy.addr(), "/", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "ok"));
    assert_eq!(backend.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http11_request_without_host_is_400() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;

    let answer = raw_exchange(proxy.addr(), b"GET / HTTP/1.1\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "answer: {answer:?}");
    assert!(
        answer.ends_with("\r\n\r\n400 Bad Request: missing Host header\n"),
        "answer: {answer:?}"
    );

    let twice = b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n";
    let answer = raw_exchange(proxy.addr(), twice).await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "answer: {answer:?}");
    assert!(
        answer.contains("more than one Host header"),
        "answer: {answer:?}"
    );

    // HTTP/1.0 does not require Host: the same request line in 1.0 is proxied.
    let answer = raw_exchange(proxy.addr(), b"GET / HTTP/1.0\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.0 200 ") || answer.starts_with("HTTP/1.1 200 "),
        "answer: {answer:?}"
    );
    assert!(answer.ends_with("app"), "answer: {answer:?}");
    assert_eq!(
        backend.requests(),
        1,
        "rejected requests must not reach the backend"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_host_or_an_asterisk_target_is_400_and_reaches_no_backend() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    // HDR-01: not an authority, or one whose routing and forwarding would differ.
    for host in ["a b", "a@b", "x@127.0.0.1", "[::1", "a/b"] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{host}: {answer:?}");
        assert!(
            answer.ends_with("\r\n\r\n400 Bad Request: invalid Host header\n"),
            "{host}: {answer:?}"
        );
    }
    // HDR-12: `*` is the server itself, for OPTIONS only.
    let answer = raw_exchange(proxy.addr(), b"GET * HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert!(
        answer.ends_with("400 Bad Request: the asterisk form is only for OPTIONS\n"),
        "{answer:?}"
    );
    assert_eq!(backend.requests(), 0);
    // Valid forms still pass: a name with a port, an IPv6 literal, OPTIONS *.
    for host in ["a.test:8080", "[::1]:80", "127.0.0.1"] {
        let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{host}: {answer:?}");
    }
    let options = b"OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answer = raw_exchange(proxy.addr(), options).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_marked_down_are_never_picked_and_none_left_is_503() {
    init_tracing();
    let (up, down) = (Backend::named("up"), Backend::named("down"));
    let yaml = single_cluster(&[&up, &down], &[]).replace(
        &format!("- address: {}\n", down.addr()),
        &format!("- address: {}\n        down: true\n", down.addr()),
    );
    let proxy = start_proxy(&yaml).await;
    for _ in 0..6 {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "up"));
    }
    assert_eq!((up.requests(), down.requests()), (6, 0));

    let only_down = single_cluster(&[&down], &[]).replace(
        &format!("- address: {}\n", down.addr()),
        &format!("- address: {}\n        down: true\n", down.addr()),
    );
    let proxy = start_proxy(&only_down).await;
    let (status, headers, body) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(status, 503, "body: {body}");
    assert!(
        body.contains("no healthy backend in cluster \"app\""),
        "body: {body:?}"
    );
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(down.accepts(), 0);
}
