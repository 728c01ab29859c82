//! HTTP/2 clients that break the rules on purpose, frame by frame ([`RawH2`]), against
//! the limits in `crates/http/src/h2_limits.rs` (RELIABILITY.md H2-06, H2-09): a
//! rapid-reset flood (CVE-2023-44487) and a flood of streams the server must reset
//! (MadeYouReset) end in GOAWAY `ENHANCE_YOUR_CALM`, the first reaching the backend
//! little; an uppercase field name ends the connection unforwarded; a CONTINUATION
//! flood is cut; an empty-DATA flood gets GOAWAY; a PING flood leaves the connection
//! working; streams past the advertised 100 are refused with `REFUSED_STREAM`, none
//! lost. After each, the proxy serves a new client.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::time::Duration;

use sluicegate_testkit::h2_frames::{code, flag, frame, kind, request_block, rst_stream};
use sluicegate_testkit::{Backend, RawH2, get, init_tracing, single_cluster, start_proxy};

/// SETTINGS_MAX_CONCURRENT_STREAMS.
const MAX_CONCURRENT_STREAMS: u16 = 0x3;

/// `n` streams (1, 3, 5 …), each a GET whose HEADERS frame is followed by `after`.
fn streams(n: u32, block: &[u8], after: impl Fn(u32) -> Vec<u8>) -> Vec<u8> {
    let flags = flag::END_STREAM | flag::END_HEADERS;
    (0..n)
        .flat_map(|i| {
            let id = 2 * i + 1;
            [frame(kind::HEADERS, flags, id, block), after(id)].concat()
        })
        .collect()
}

/// Whether the proxy at `addr` still answers a new client.
async fn still_serves(addr: std::net::SocketAddr) -> bool {
    get(addr, "/", &[]).await.0.is_success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rapid_reset_flood_gets_goaway_and_reaches_the_backend_little() {
    init_tracing();
    let backend = Backend::slow(Duration::from_millis(100));
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut conn = RawH2::open(proxy.addr()).await;
    let flood = streams(10_000, &request_block(&[]), |id| {
        rst_stream(id, code::CANCEL)
    });
    let writer = conn.flood(flood);
    let goaway = conn.until_goaway(|_| {}).await;
    writer.abort();
    let goaway = goaway.expect("the connection closed without GOAWAY");
    assert_eq!(goaway.error_code(), Some(code::ENHANCE_YOUR_CALM));
    // Streams reset at once are not worth a backend request; a few were taken first.
    assert!(
        backend.requests() <= 100,
        "{} reached the backend",
        backend.requests()
    );
    assert!(still_serves(proxy.addr()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_the_server_must_reset_get_goaway_past_the_budget() {
    init_tracing();
    let backend = Backend::named("a");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut conn = RawH2::open(proxy.addr()).await;
    // A request that ends with its HEADERS yet announces a body is malformed (RFC 9113
    // §8.1.1): the server resets each such stream itself (MadeYouReset,
    // CVE-2025-8671). Not a WINDOW_UPDATE of 0, which h2 takes as a connection error.
    let malformed = request_block(&[("content-length", "5")]);
    let writer = conn.flood(streams(3_000, &malformed, |_| Vec::new()));
    let mut resets = 0;
    let goaway = conn
        .until_goaway(|f| {
            if f.kind == kind::RST_STREAM {
                resets += 1;
            }
        })
        .await;
    writer.abort();
    let goaway = goaway.expect("the connection closed without GOAWAY");
    assert_eq!(
        goaway.error_code(),
        Some(code::ENHANCE_YOUR_CALM),
        "{resets} resets"
    );
    // The budget is 1,024 resets: the GOAWAY comes after them (the last of them may
    // be dropped when the connection closes; 924 of 1,024 arrived when measured).
    assert!(resets >= 500, "GOAWAY after only {resets} resets");
    assert_eq!(backend.requests(), 0);
    assert!(still_serves(proxy.addr()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uppercase_field_name_ends_the_connection_and_reaches_no_backend() {
    init_tracing();
    let backend = Backend::named("a");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut conn = RawH2::open(proxy.addr()).await;
    // Field names are lowercase in HTTP/2 (RFC 9113 §8.2.1); h2 ends the connection.
    let malformed = request_block(&[("X-Upper", "a")]);
    conn.send(&streams(1, &malformed, |_| Vec::new())).await;
    let mut answered = false;
    let goaway = conn
        .until_goaway(|f| answered |= f.kind == kind::HEADERS)
        .await;
    let goaway = goaway.expect("the connection closed without GOAWAY");
    assert_eq!(goaway.error_code(), Some(code::PROTOCOL_ERROR));
    assert!(!answered);
    assert_eq!(backend.requests(), 0);
    assert!(still_serves(proxy.addr()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_flood_is_cut_and_reaches_no_backend() {
    init_tracing();
    let backend = Backend::named("a");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut conn = RawH2::open(proxy.addr()).await;
    // A head that never ends: 100,000 CONTINUATION frames of one field each, 3 MB.
    let mut flood = frame(kind::HEADERS, flag::END_STREAM, 1, &request_block(&[]));
    let field = &request_block(&[("x-fill", "aaaaaaaaaaaaaaaaaaaa")])[6..];
    for _ in 0..100_000 {
        flood.extend(frame(kind::CONTINUATION, 0, 1, field));
    }
    let writer = conn.flood(flood);
    // GOAWAY, or a stream reset and then the connection closed: either way it ends.
    let mut answered = false;
    let _ = conn
        .until_goaway(|f| answered |= f.kind == kind::HEADERS)
        .await;
    writer.abort();
    assert!(!answered, "the endless head was answered");
    assert_eq!(backend.requests(), 0);
    assert!(still_serves(proxy.addr()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_flood_leaves_the_connection_serving() {
    init_tracing();
    let backend = Backend::named("a");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut conn = RawH2::open(proxy.addr()).await;
    let ping = frame(kind::PING, 0, 0, b"12345678");
    conn.send(&ping.repeat(50_000)).await;
    let flags = flag::END_STREAM | flag::END_HEADERS;
    conn.send(&frame(kind::HEADERS, flags, 1, &request_block(&[])))
        .await;
    let mut pongs = 0;
    let answer = loop {
        let f = conn.next().await.expect("closed after a PING flood");
        match f.kind {
            kind::PING => pongs += 1,
            kind::HEADERS | kind::GOAWAY | kind::RST_STREAM => break f,
            _ => {}
        }
    };
    assert_eq!((answer.kind, answer.stream), (kind::HEADERS, 1));
    assert!(pongs <= 50_000);
    assert_eq!(backend.requests(), 1);
}

/// CVE-2019-9518: h2 counts the empty DATA frames that do not end a stream (one free
/// after each frame with data) and ends the connection with GOAWAY `ENHANCE_YOUR_CALM`
/// past 100 (`MAX_RECV_EMPTY_DATA_FRAMES`; h2's recv path queues nothing for them
/// meanwhile). A body with a few empty frames in it is forwarded as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_data_flood_gets_goaway_and_a_few_empty_frames_pass() {
    init_tracing();
    let backend = Backend::named("a");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let block = request_block(&[("content-type", "text/plain")]);
    let empty = frame(kind::DATA, 0, 1, &[]);

    let mut conn = RawH2::open(proxy.addr()).await;
    conn.send(&frame(kind::HEADERS, flag::END_HEADERS, 1, &block))
        .await;
    conn.send(&empty.repeat(50)).await;
    conn.send(&frame(kind::DATA, flag::END_STREAM, 1, b"x"))
        .await;
    let answer = loop {
        let f = conn
            .next()
            .await
            .expect("closed on a body with empty frames");
        if matches!(f.kind, kind::HEADERS | kind::GOAWAY | kind::RST_STREAM) {
            break f;
        }
    };
    assert_eq!(
        (answer.kind, answer.stream),
        (kind::HEADERS, 1),
        "{answer:?}"
    );

    let mut conn = RawH2::open(proxy.addr()).await;
    conn.send(&frame(kind::HEADERS, flag::END_HEADERS, 1, &block))
        .await;
    let flood = conn.flood(empty.repeat(100_000));
    let goaway = loop {
        let f = conn.next().await.expect("closed without GOAWAY");
        if f.kind == kind::GOAWAY {
            break f;
        }
    };
    flood.abort();
    assert_eq!(goaway.error_code(), Some(code::ENHANCE_YOUR_CALM));
    assert!(
        matches!(backend.requests(), 1 | 2),
        "{}",
        backend.requests()
    );
    assert!(still_serves(proxy.addr()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_past_the_advertised_limit_are_refused_and_none_is_lost() {
    init_tracing();
    let backend = Backend::slow(Duration::from_millis(500));
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let mut conn = RawH2::open(proxy.addr()).await;
    assert_eq!(conn.settings.setting(MAX_CONCURRENT_STREAMS), Some(100));
    conn.send(&streams(150, &request_block(&[]), |_| Vec::new()))
        .await;
    let (mut answered, mut refused) = (0, 0);
    while answered + refused < 150 {
        let f = conn.next().await.expect("closed with streams open");
        match f.kind {
            kind::HEADERS => answered += 1,
            kind::RST_STREAM => {
                assert_eq!(f.error_code(), Some(code::REFUSED_STREAM), "{f:?}");
                refused += 1;
            }
            kind::GOAWAY => panic!("GOAWAY: {f:?}"),
            _ => {}
        }
    }
    assert_eq!((answered, refused), (100, 50));
    assert_eq!(backend.requests(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_specific_fields_are_refused_and_reach_no_backend() {
    init_tracing();
    let backend = Backend::named("a");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    // RFC 9113 §8.2.2: none of these may appear in an HTTP/2 request.
    let fields = [
        ("connection", "keep-alive"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("keep-alive", "timeout=5"),
        ("proxy-connection", "keep-alive"),
        ("te", "gzip"),
    ];
    for field in fields {
        let mut conn = RawH2::open(proxy.addr()).await;
        conn.send(&streams(1, &request_block(&[field]), |_| Vec::new()))
            .await;
        let refused = loop {
            let Some(f) = conn.next().await else {
                break true;
            };
            match f.kind {
                kind::RST_STREAM | kind::GOAWAY => {
                    break f.error_code() == Some(code::PROTOCOL_ERROR);
                }
                kind::HEADERS => break false,
                _ => {}
            }
        };
        assert!(refused, "{field:?} was not refused");
    }
    assert_eq!(backend.requests(), 0);
    assert!(still_serves(proxy.addr()).await);
}
