//! HTTP/2 flow control towards a client (RELIABILITY.md H2-10): a client that stops
//! granting window (here: stops reading, so hyper's client releases none) stops the
//! proxy reading its backend, the bytes in between held to windows and socket
//! buffers, and once it reads again every byte arrives, in order.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::net::SocketAddr;
use std::time::Duration;

use http::Method;
use http_body_util::BodyExt;
use sluicegate_testkit::client::empty;
use sluicegate_testkit::h2_frames::{RawH2, kind};
use sluicegate_testkit::pattern::Digest;
use sluicegate_testkit::{
    Backend, H2Conn, WAIT, eventually, init_tracing, pattern_digest, single_cluster, start_proxy,
    within,
};
use sluicegate_tests::support::config::with_listener_keys;
use tokio::time::Instant;

/// The download: far more than every window and socket buffer on the way.
const LEN: u64 = 128 * 1024 * 1024;
/// What the backend may have produced while the client reads nothing: the client's
/// windows, the proxy's HTTP/2 and HTTP/1 buffers and the socket buffers on both
/// hops hold all of it.
const HELD: u64 = 32 * 1024 * 1024;

/// Polls `count` until it has not moved for half a second (bounded by [`WAIT`]);
/// where it stopped.
async fn settled(count: impl Fn() -> u64) -> u64 {
    within(WAIT, "the backend to stop being read", async {
        let (mut seen, mut since) = (count(), Instant::now());
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = count();
            if now != seen {
                (seen, since) = (now, Instant::now());
            } else if since.elapsed() >= Duration::from_millis(500) {
                return seen;
            }
        }
    })
    .await
}

/// Over cleartext HTTP/2 to `addr`, granting each stream `window` bytes
/// (SETTINGS_INITIAL_WINDOW_SIZE, never updated), `GET path` on stream 1: the frames
/// the proxy sends until it closes the connection, as (kind, stream, payload bytes),
/// and how long that took.
async fn get_with_window(
    addr: SocketAddr,
    window: u32,
    path: &str,
) -> (Vec<(u8, u32, usize)>, Duration) {
    let mut conn = RawH2::open_with(addr, &[(0x4, window)]).await;
    conn.send_get(1, path).await;
    let started = Instant::now();
    let mut frames = Vec::new();
    while let Some(frame) = conn.next().await {
        frames.push((frame.kind, frame.stream, frame.payload.len()));
    }
    (frames, started.elapsed())
}

/// Whether `frames` hold one of `kind` on stream 1.
fn has(frames: &[(u8, u32, usize)], kind: u8) -> bool {
    frames
        .iter()
        .any(|&(k, stream, _)| k == kind && stream == 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_granting_no_window_stops_the_backend_and_then_gets_every_byte() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&single_cluster(&[&sink], &[])).await;
    let expected = tokio::task::spawn_blocking(|| pattern_digest(LEN));
    let client = H2Conn::open(proxy.addr()).await.unwrap();
    let request = client.request(Method::GET, &format!("/download?bytes={LEN}"), empty());
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut digest = Digest::default();
    let first = within(WAIT, "the first bytes", body.frame()).await;
    digest.update(first.unwrap().unwrap().data_ref().unwrap());
    // Reading nothing more: the backend is read only as far as the buffers take.
    let stalled = settled(|| sink.generated()).await;
    eprintln!("backend stopped at {stalled} bytes while the client read nothing");
    assert!(
        stalled < HELD,
        "{stalled} bytes went out to a client reading none"
    );
    // Reading again: the rest comes, every byte in order.
    within(Duration::from_secs(60), "the rest of the download", async {
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame.unwrap().data_ref() {
                digest.update(data);
            }
        }
    })
    .await;
    assert_eq!(digest.finish(), expected.await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_granting_no_window_past_the_send_timeout_is_cut_with_its_backend() {
    init_tracing();
    // 64 MiB, streamed as fast as the proxy reads.
    let backend = Backend::trickling(64 * 16, 64 * 1024, Duration::ZERO);
    let proxy = start_proxy(&with_listener_keys(&backend, &[("send_timeout", "1s")])).await;
    let client = H2Conn::open(proxy.addr()).await.unwrap();
    let response = client
        .send(client.request(Method::GET, "/", empty()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let started = Instant::now();
    let mut body = response.into_body();
    let first = within(WAIT, "the first bytes", body.frame()).await;
    assert!(first.unwrap().is_ok());
    // Reading nothing more: hyper's client still drains the socket, so no write of
    // the proxy waits, but it grants the stream no window. Past the send timeout the
    // proxy gives up on the client, and on the backend behind it.
    assert!(
        eventually(WAIT, || backend.closed() == 1).await,
        "the backend is still held by a client granting no window"
    );
    assert!(started.elapsed() >= Duration::from_secs(1), "cut early");
    let ended = within(WAIT, "the rest of what was sent", async {
        loop {
            match body.frame().await {
                None => return "whole",
                Some(Err(_)) => return "cut",
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(ended, "cut", "the body ended whole");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_opening_with_no_window_at_all_is_cut_at_the_send_timeout() {
    init_tracing();
    let backend = Backend::trickling(64 * 16, 64 * 1024, Duration::ZERO);
    let proxy = start_proxy(&with_listener_keys(&backend, &[("send_timeout", "1s")])).await;
    // No stream may be sent a byte of DATA: the response head comes, then nothing.
    let (frames, took) = get_with_window(proxy.addr(), 0, "/").await;
    assert!(took >= Duration::from_secs(1), "cut early");
    assert!(has(&frames, kind::HEADERS), "{frames:?}");
    assert!(!has(&frames, kind::DATA), "{frames:?}");
    assert!(
        eventually(WAIT, || backend.closed() == 1).await,
        "the backend is still held"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_frame_held_in_part_by_the_clients_window_does_not_hold_the_connection() {
    init_tracing();
    let sink = Backend::sink();
    let keys = [("send_timeout", "1s"), ("keepalive_timeout", "1s")];
    let proxy = start_proxy(&with_listener_keys(&sink, &keys)).await;
    // A 100-byte window for a 1000-byte answer: hyper hands h2 the whole body and
    // lets the body go; h2 sends 100 bytes and keeps the rest for a window that
    // never comes. The keep-alive close (GOAWAY) waits for the stream; past the send
    // timeout the connection is dropped rather than held for the rest.
    let (frames, _) = get_with_window(proxy.addr(), 100, "/download?bytes=1000").await;
    let data: usize = frames
        .iter()
        .filter(|f| f.0 == kind::DATA)
        .map(|f| f.2)
        .sum();
    assert!(has(&frames, kind::HEADERS), "{frames:?}");
    assert!(data <= 100, "{data} bytes sent past a 100-byte window");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_frame_answer_the_client_opens_no_window_for_is_cut_at_the_send_timeout() {
    init_tracing();
    let sink = Backend::sink();
    let proxy = start_proxy(&with_listener_keys(&sink, &[("send_timeout", "1s")])).await;
    // No window at all, for an answer that is one frame: its body's last frame
    // waits for room like any other (the keep-alive close, a minute off, is not
    // what ends it).
    let (frames, took) = get_with_window(proxy.addr(), 0, "/download?bytes=1000").await;
    assert!(took >= Duration::from_secs(1), "cut early");
    assert!(has(&frames, kind::HEADERS), "{frames:?}");
    assert!(!has(&frames, kind::DATA), "{frames:?}");
}
