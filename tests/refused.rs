//! Request heads sluicegate refuses before routing: each class gets its status and the
//! one-line body every other error has, closes the connection, and reaches no backend;
//! requests pipelined ahead of a refused one are answered first; and bodies (sized or
//! chunked, with trailers) are never mistaken for heads, however the bytes are split.
//! Raw sockets both ways.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::SocketAddr;

use sluicegate_testkit::client::raw_exchange;
use sluicegate_testkit::{Backend, WAIT, init_tracing, single_cluster, start_proxy, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The answer's body (after the head).
fn body_of(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Refused heads: (what is sent, status, what the body says after `"<code> <reason>: "`).
fn refused_heads() -> Vec<(String, u16, &'static str)> {
    let host = "Host: a\r\n";
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    vec![
        // Fragments: the client's fragment would be dropped, not forwarded.
        (
            format!("GET /a#b HTTP/1.1\r\n{host}\r\n"),
            400,
            "fragment in the request target",
        ),
        (
            format!("GET /#/admin HTTP/1.1\r\n{host}\r\n"),
            400,
            "fragment in the request target",
        ),
        (
            format!("GET http://a/x?q#y HTTP/1.1\r\n{host}\r\n"),
            400,
            "fragment in the request target",
        ),
        // Bytes that are not allowed where they stand.
        (
            format!("GET /a\x01b HTTP/1.1\r\n{host}\r\n"),
            400,
            "invalid request target",
        ),
        (
            format!("GET /a\x7fb HTTP/1.1\r\n{host}\r\n"),
            400,
            "invalid request target",
        ),
        (
            format!("GET /a<b> HTTP/1.1\r\n{host}\r\n"),
            400,
            "invalid request target",
        ),
        (
            format!("G\x01T / HTTP/1.1\r\n{host}\r\n"),
            400,
            "invalid method",
        ),
        (
            format!("GET / HTTP/1.1\r\n{host}Bad Name: x\r\n\r\n"),
            400,
            "invalid header",
        ),
        (
            format!("GET / HTTP/1.1\r\n{host}X: a\x01b\r\n\r\n"),
            400,
            "invalid header",
        ),
        (
            format!("GET / HTTX/1.1\r\n{host}\r\n"),
            400,
            "malformed request line",
        ),
        (
            format!("GET / HTTP/1.2\r\n{host}\r\n"),
            505,
            "HTTP version not supported",
        ),
        (
            format!("GET / HTTP/2.0\r\n{host}\r\n"),
            505,
            "HTTP version not supported",
        ),
        // Framing a smuggler would use.
        (
            format!("POST / HTTP/1.1\r\n{host}Content-Length: 1\r\nContent-Length: 2\r\n\r\nxx"),
            400,
            "conflicting Content-Length headers",
        ),
        (
            format!("POST / HTTP/1.1\r\n{host}Content-Length: +5\r\n\r\nhello"),
            400,
            "invalid Content-Length",
        ),
        (
            format!("POST / HTTP/1.1\r\n{host}Content-Length: 5, 5\r\n\r\nhello"),
            400,
            "invalid Content-Length",
        ),
        (
            format!("POST / HTTP/1.1\r\n{host}Content-Length: 0x5\r\n\r\nhello"),
            400,
            "invalid Content-Length",
        ),
        // SMG-05's other spellings: a list, a sign, separators, inner space.
        (
            format!("POST / HTTP/1.1\r\n{host}Content-Length: 5, 6\r\n\r\nhello"),
            400,
            "invalid Content-Length",
        ),
        (
            format!("POST / HTTP/1.1\r\n{host}Content-Length: -1\r\n\r\nhello"),
            400,
            "invalid Content-Length",
        ),
        (
            format!("POST / HTTP/1.1\r\n{host}Content-Length: 1_0\r\n\r\nhello"),
            400,
            "invalid Content-Length",
        ),
        (
            format!("POST / HTTP/1.1\r\n{host}Content-Length: 5 5\r\n\r\nhello"),
            400,
            "invalid Content-Length",
        ),
        (
            format!("POST / HTTP/1.1\r\n{host}Content-Length: 0\r\nContent-Length: 31\r\n\r\n"),
            400,
            "conflicting Content-Length headers",
        ),
        // HDR-04: field-name and value bytes that are not allowed.
        (
            format!("GET / HTTP/1.1\r\n{host}Host : a\r\n\r\n"),
            400,
            "invalid header",
        ),
        (
            format!("GET / HTTP/1.1\r\n{host}: x\r\n\r\n"),
            400,
            "invalid header",
        ),
        (
            format!("GET / HTTP/1.1\r\n{host}X(y: 1\r\n\r\n"),
            400,
            "invalid header",
        ),
        (
            format!("GET / HTTP/1.1\r\n{host}no colon here\r\n\r\n"),
            400,
            "invalid header",
        ),
        (
            format!("GET / HTTP/1.1\r\n{host}X: a\x00b\r\n\r\n"),
            400,
            "invalid header",
        ),
        (
            format!("GET / HTTP/1.1\r\n{host}X: a\rb\r\n\r\n"),
            400,
            "invalid header",
        ),
        (
            format!("POST / HTTP/1.0\r\n{host}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            400,
            "Transfer-Encoding in an HTTP/1.0 request",
        ),
        (
            format!("POST / HTTP/1.1\r\n{host}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
            400,
            "Transfer-Encoding does not end in chunked",
        ),
        (
            format!("POST / HTTP/1.1\r\n{host}Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n"),
            400,
            "Transfer-Encoding does not end in chunked",
        ),
        // Chunked twice (SMG-04): one layer of decoding would leave the other's bytes.
        (
            format!(
                "POST / HTTP/1.1\r\n{host}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"
            ),
            400,
            "chunked applied more than once",
        ),
        (
            format!(
                "POST / HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            ),
            400,
            "chunked applied more than once",
        ),
        // Sizes.
        (
            format!("GET / HTTP/1.1\r\n{host}{many}\r\n"),
            431,
            "more than 100 header fields",
        ),
        (
            format!(
                "GET / HTTP/1.1\r\n{host}X-Big: {}\r\n\r\n",
                "x".repeat(70 * 1024)
            ),
            431,
            "request head larger than 64 KiB",
        ),
        (
            format!("GET /{} HTTP/1.1\r\n{host}\r\n", "a".repeat(10 * 1024)),
            414,
            "request target longer than 8 KiB",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_head_gets_its_status_and_a_one_line_body_and_reaches_no_backend() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    for (request, status, says) in refused_heads() {
        let shown = request.escape_debug().to_string();
        let shown = &shown[..shown.len().min(120)];
        let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{shown}: {answer:?}"
        );
        let body = body_of(&answer);
        assert!(
            body.starts_with(&format!("{status} ")) && body.ends_with(&format!(": {says}\n")),
            "{shown}: {body:?}"
        );
        assert_eq!(body.lines().count(), 1, "{shown}: {body:?}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{shown}: {answer:?}"
        );
    }
    assert_eq!(backend.requests(), 0, "{:?}", backend.request_lines());
}

/// Three good requests (one with a sized body, one chunked with an extension and a
/// trailer, both bodies holding bytes that look like a bad head), then a refused one.
/// Sent to a backend that answers only once it has read the body (`Backend::echo`):
/// a backend that answers before the body has arrived (a client pausing mid-body a
/// millisecond too long) makes hyper close the client connection after that answer,
/// as it must with a body left unread, and the requests after it are never read.
const PIPELINE: &[u8] = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\
POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 26\r\n\r\nGET /#x HTTP/1.1\r\nH: a\r\n\r\n\
POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\
1a;ext=1\r\nGET /#y HTTP/1.1\r\nH: b\r\n\r\n\r\n0\r\nX-Trailer: t\r\n\r\n\
GET /4#bad HTTP/1.1\r\nHost: a\r\n\r\nGET /5 HTTP/1.1\r\nHost: a\r\n\r\n";

/// The statuses of the answers in `answer`, in order.
fn statuses(answer: &str) -> Vec<u16> {
    answer
        .match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| answer.get(at + 9..at + 12)?.parse().ok())
        .collect()
}

fn assert_pipeline_answered(answer: &str, backend: &Backend) {
    assert_eq!(statuses(answer), [200, 200, 200, 400], "{answer:?}");
    assert!(
        answer.ends_with("400 Bad Request: fragment in the request target\n"),
        "{answer:?}"
    );
    assert_eq!(
        backend.request_lines(),
        ["GET /1", "POST /2", "POST /3"],
        "the bodies were not forwarded as sent, or /5 came through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_ahead_of_a_refused_one_are_answered_and_bodies_are_not_heads() {
    init_tracing();
    let backend = Backend::echo(); // Reads every body before its answer ends: see PIPELINE.
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let answer = raw_exchange(proxy.addr(), PIPELINE).await;
    assert_pipeline_answered(&answer, &backend);
}

/// Writes `bytes` in pieces of 1 to 7 bytes, half-closes, then reads until the proxy
/// closes. Every write must succeed: after a refusal the proxy reads and drops what
/// comes (a socket closed with unread bytes would reset, and lose the answer).
async fn trickle(addr: SocketAddr, bytes: &[u8]) -> String {
    within(WAIT * 2, "trickled exchange", async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let mut rest = bytes;
        let mut size = 1;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(size.min(rest.len()));
            stream.write_all(piece).await.unwrap();
            stream.flush().await.unwrap();
            tokio::task::yield_now().await;
            rest = tail;
            size = size % 7 + 1;
        }
        stream.shutdown().await.unwrap();
        let mut received = Vec::new();
        stream.read_to_end(&mut received).await.unwrap();
        String::from_utf8_lossy(&received).into_owned()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_and_bodies_split_anywhere_are_checked_the_same() {
    init_tracing();
    let backend = Backend::echo(); // Reads every body before its answer ends: see PIPELINE.
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let answer = trickle(proxy.addr(), PIPELINE).await;
    assert_pipeline_answered(&answer, &backend);
    // A refused head that arrives in pieces is refused the same.
    let answer = trickle(proxy.addr(), b"GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");
    assert!(
        answer.ends_with(": fragment in the request target\n"),
        "{answer:?}"
    );
    assert_eq!(backend.requests(), 3);
}

/// Pipelined requests for two clusters, the bodies of two of them holding a whole
/// request for the other cluster: each request is routed on its own head, and what a
/// body holds goes to the backend of the request it belongs to, as body bytes.
const TWO_CLUSTERS: &[u8] = b"GET /a/1 HTTP/1.1\r\nHost: t\r\n\r\n\
POST /b/2 HTTP/1.1\r\nHost: t\r\nContent-Length: 27\r\n\r\nGET /a/x HTTP/1.1\r\nH: t\r\n\r\n\
GET /b/3 HTTP/1.1\r\nHost: t\r\n\r\n\
POST /a/4 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
1b\r\nGET /b/y HTTP/1.1\r\nH: t\r\n\r\n\r\n0\r\n\r\n\
GET /b/5 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_each_routed_on_their_own_head() {
    init_tracing();
    let (a, b) = (Backend::echo(), Backend::echo());
    let config = format!(
        "listeners:\n  main:\n    address: 127.0.0.1:0\n    routes:\n\
         \x20     - {{ match: {{ path_prefix: /a }}, cluster: a }}\n\
         \x20     - {{ match: {{ path_prefix: /b }}, cluster: b }}\n\
         clusters:\n  a:\n    backends:\n      - address: {}\n  b:\n    backends:\n      - address: {}\n",
        a.addr(),
        b.addr()
    );
    let proxy = start_proxy(&config).await;
    let answer = raw_exchange(proxy.addr(), TWO_CLUSTERS).await;
    assert_eq!(statuses(&answer), [200; 5], "{answer:?}");
    // In order, each answered by the backend of its own route (the echo shows it).
    let order: Vec<usize> = ["POST /b/2 ", "GET /b/3 ", "POST /a/4 ", "GET /b/5 "]
        .iter()
        .map(|line| {
            answer
                .find(line)
                .unwrap_or_else(|| panic!("{line}: {answer:?}"))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{answer:?}");
    assert_eq!(a.request_lines(), ["GET /a/1", "POST /a/4"]);
    assert_eq!(b.request_lines(), ["POST /b/2", "GET /b/3", "GET /b/5"]);
    // The requests inside bodies went as bytes of those bodies.
    assert!(answer.contains("GET /a/x HTTP/1.1\r\nH: t"), "{answer:?}");
    assert!(answer.contains("GET /b/y HTTP/1.1\r\nH: t"), "{answer:?}");
}
