//! A client that goes away mid-request (RELIABILITY.md LIM-11): an upload abandoned
//! part-way ends the upstream request cut, never re-framed into a shorter complete
//! body (sized or chunked), and the upstream connection it was on is not used again;
//! a download abandoned part-way closes the backend connection instead of reading
//! the rest. The backend is the sink, which hashes bodies as they come.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use http::Method;
use sluicegate_testkit::client::{empty, request};
use sluicegate_testkit::{
    Backend, Conn, WAIT, eventually, get, init_tracing, single_cluster, start_proxy, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// 1 MiB of the upload before the client gives up.
const SENT: usize = 1024 * 1024;

/// Sends `head` and [`SENT`] body bytes in `framing`, then resets the connection.
async fn abandon_upload(addr: std::net::SocketAddr, head: &str, chunked: bool) {
    let stream = within(WAIT, "connecting", TcpStream::connect(addr))
        .await
        .unwrap();
    let mut stream = stream;
    within(WAIT, "the head", stream.write_all(head.as_bytes()))
        .await
        .unwrap();
    let piece = vec![b'x'; 64 * 1024];
    for _ in 0..SENT / piece.len() {
        if chunked {
            let size = format!("{:x}\r\n", piece.len());
            within(WAIT, "a chunk size", stream.write_all(size.as_bytes()))
                .await
                .unwrap();
        }
        within(WAIT, "the body", stream.write_all(&piece))
            .await
            .unwrap();
        if chunked {
            within(WAIT, "a chunk end", stream.write_all(b"\r\n"))
                .await
                .unwrap();
        }
    }
    // A reset, not a close: what a killed client or a dropped network leaves.
    stream.set_zero_linger().unwrap();
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_upload_reaches_the_backend_cut_and_its_connection_is_not_reused() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&single_cluster(&[&sink], &[])).await;
    let sized = "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 104857600\r\n\r\n";
    let chunked = "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (n, (head, is_chunked)) in [(sized, false), (chunked, true)].into_iter().enumerate() {
        abandon_upload(proxy.addr(), head, is_chunked).await;
        assert!(
            eventually(WAIT, || sink.uploads_cut() == n + 1).await,
            "upload {n}: the backend got a complete body ({} cut, {} requests)",
            sink.uploads_cut(),
            sink.requests()
        );
    }
    // The next request goes on a connection of its own: neither cut one came back.
    let (status, _, _) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        sink.accepts(),
        3,
        "a cut upstream connection was used again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_download_closes_the_backend_connection() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&single_cluster(&[&sink], &[])).await;
    let total: u64 = 64 * 1024 * 1024;
    let mut stream = within(WAIT, "connecting", TcpStream::connect(proxy.addr()))
        .await
        .unwrap();
    let head = format!("GET /download?bytes={total} HTTP/1.1\r\nHost: a\r\n\r\n");
    within(WAIT, "the head", stream.write_all(head.as_bytes()))
        .await
        .unwrap();
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while got < 1024 * 1024 {
        let n = within(WAIT, "the download", stream.read(&mut buf))
            .await
            .unwrap();
        assert!(n > 0, "closed after {got} bytes");
        got += n;
    }
    drop(stream);
    assert!(
        eventually(WAIT, || sink.closed() == 1).await,
        "the backend connection stayed open"
    );
    assert!(
        sink.generated() < total,
        "the whole download was read anyway"
    );
    // And the proxy serves on, on a new backend connection.
    let mut conn = Conn::open(proxy.addr()).await.unwrap();
    let sent = request(Method::GET, proxy.addr(), "/", &[], empty());
    assert_eq!(conn.send(sent).await.unwrap().status(), 200);
}
