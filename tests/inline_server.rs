//! The in-task HTTP/1.1 server (`crates/http/src/h1_server.rs`) on the wire, over raw
//! sockets: HTTP/1.0 clients, `HEAD`, pipelined requests across a hand-off to hyper's
//! server (a request with a body) and back, the `date` field, and a client that goes
//! away while its request is answered (the request is dropped, as hyper drops it).
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use sluicegate_testkit::client::raw_exchange;
use sluicegate_testkit::{
    Backend, WAIT, eventually, init_tracing, single_cluster, start_proxy, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The status lines of every response in `answer`, in order (a body runs straight
/// into the next status line; no body here holds `HTTP/1.`).
fn status_lines(answer: &str) -> Vec<&str> {
    answer
        .match_indices("HTTP/1.")
        .filter_map(|(at, _)| answer.get(at..).and_then(|rest| rest.split("\r\n").next()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http10_client_gets_http10_answers_kept_only_when_it_asks() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let plain = raw_exchange(proxy.addr(), b"GET /a HTTP/1.0\r\nHost: a\r\n\r\n").await;
    assert!(plain.starts_with("HTTP/1.0 200 OK\r\n"), "{plain:?}");
    assert!(
        !plain
            .to_ascii_lowercase()
            .contains("connection: keep-alive"),
        "{plain:?}"
    );
    assert!(plain.ends_with("\r\n\r\napp"), "{plain:?}");
    // Kept alive when it asks: the second request comes on the same connection, and
    // the connection closes after it (it did not ask again).
    let kept = raw_exchange(
        proxy.addr(),
        b"GET /b HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\nGET /c HTTP/1.0\r\nHost: a\r\n\r\n",
    )
    .await;
    assert_eq!(status_lines(&kept), ["HTTP/1.0 200 OK"; 2], "{kept:?}");
    let first = kept.split("app").next().unwrap().to_ascii_lowercase();
    assert!(first.contains("\r\nconnection: keep-alive\r\n"), "{kept:?}");
    assert_eq!(backend.request_lines(), ["GET /a", "GET /b", "GET /c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_answers_carry_the_length_and_no_body_and_every_answer_a_date() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let answer = raw_exchange(
        proxy.addr(),
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, rest) = answer.split_once("\r\n\r\n").expect("a whole head");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
    assert!(head.contains("\r\ncontent-length: 3"), "{answer:?}");
    // No body: the next answer follows the head at once.
    assert!(rest.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
    assert!(rest.ends_with("\r\n\r\napp"), "{answer:?}");
    assert!(rest.contains("\r\nconnection: close\r\n"), "{answer:?}");
    for head in [head, rest] {
        let date = head
            .split("\r\n")
            .find_map(|l| l.strip_prefix("date: "))
            .expect("a date field");
        assert!(date.ends_with(" GMT") && date.len() == 29, "{date:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order_across_a_body() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let pipeline = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\
        GET /2 HTTP/1.1\r\nHost: a\r\n\r\n\
        POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody\
        GET /4 HTTP/1.1\r\nHost: a\r\n\r\n\
        GET /5 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answer = raw_exchange(proxy.addr(), pipeline).await;
    assert_eq!(status_lines(&answer), ["HTTP/1.1 200 OK"; 5], "{answer:?}");
    assert_eq!(
        backend.request_lines(),
        ["GET /1", "GET /2", "POST /3", "GET /4", "GET /5"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_mid_request_has_its_request_dropped() {
    init_tracing();
    let backend = Backend::silent();
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    assert!(
        eventually(WAIT, || backend.requests() == 1).await,
        "the request never reached the backend"
    );
    drop(client);
    // The backend's connection is closed long before any response timeout.
    assert!(
        eventually(WAIT, || backend.closed() == 1).await,
        "the proxy kept the request to the backend after its client left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_split_at_every_byte_is_answered_once() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let head = b"GET /split HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789\r\nConnection: close\r\n\r\n";
    let answer = within(WAIT, "trickled head", async {
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        for byte in head {
            stream.write_all(&[*byte]).await.unwrap();
            tokio::task::yield_now().await;
        }
        let mut received = Vec::new();
        let _ = stream.read_to_end(&mut received).await;
        String::from_utf8_lossy(&received).into_owned()
    })
    .await;
    assert_eq!(status_lines(&answer), ["HTTP/1.1 200 OK"], "{answer:?}");
    assert_eq!(backend.request_lines(), ["GET /split"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_mid_stream_has_its_response_dropped() {
    init_tracing();
    // The head and a first chunk, then nothing: a stream with long gaps (SSE).
    let backend =
        Backend::replying(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    client
        .write_all(b"GET /events HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    within(WAIT, "the first chunk", async {
        let mut received = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&received).contains("first") {
            let n = client.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the first chunk: {received:?}");
            received.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    drop(client);
    // Not at the next write (there is none): the backend's connection is closed now.
    assert!(
        eventually(WAIT, || backend.closed() == 1).await,
        "the proxy kept streaming to a client that left"
    );
}
