//! Large bodies stream through the proxy both ways intact, checked by SHA-256 at the
//! far end without either side holding the body whole.

use std::time::Duration;

use http::Method;
use sluicegate_testkit::client::{Conn, body, empty, read_digest, read_text, request};
use sluicegate_testkit::{
    Backend, PatternBody, init_tracing, pattern_digest, single_cluster, start_proxy, within,
};

/// 64 MiB: far more than any buffer on the way, so buffering or truncation shows.
const LARGE: u64 = 64 * 1024 * 1024;

/// Bound on one large transfer: these run in unoptimised builds on slow machines.
const TRANSFER: Duration = Duration::from_secs(60);

/// Uploads `LARGE` pattern bytes (as `body_of` frames them) to the sink through the
/// proxy and checks the digest the sink computed.
async fn upload(body_of: fn(u64) -> PatternBody) {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&single_cluster(&[&sink], &[("response_timeout", "60s")])).await;
    let addr = proxy.addr();
    let expected = tokio::task::spawn_blocking(|| pattern_digest(LARGE));

    let mut conn = Conn::open(addr).await.unwrap_or_else(|e| panic!("{e}"));
    let sent = request(Method::POST, addr, "/upload", &[], body(body_of(LARGE)));
    let response = conn
        .send_within(TRANSFER, sent)
        .await
        .unwrap_or_else(|e| panic!("upload: {e}"));
    let (status, _, answer) = within(TRANSFER, "reading the sink's answer", read_text(response))
        .await
        .unwrap_or_else(|e| panic!("the sink's answer: {e}"));

    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        expected
            .await
            .unwrap_or_else(|e| panic!("digest task: {e}"))
    );
    assert_eq!(sink.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_of_64_mib_with_content_length_arrives_intact() {
    upload(PatternBody::sized).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_upload_of_64_mib_arrives_intact() {
    upload(PatternBody::chunked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_of_64_mib_arrives_intact() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&single_cluster(&[&sink], &[])).await;
    let expected = tokio::task::spawn_blocking(|| pattern_digest(LARGE));

    let mut conn = Conn::open(proxy.addr())
        .await
        .expect("connect to the proxy");
    let path = format!("/download?bytes={LARGE}");
    let sent = request(Method::GET, proxy.addr(), &path, &[], empty());
    let response = conn.send(sent).await.expect("download request");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"],
        LARGE.to_string().as_str()
    );
    let digest = within(TRANSFER, "downloading 64 MiB", read_digest(response))
        .await
        .expect("the download");

    assert_eq!(digest, expected.await.expect("digest task"));
}
