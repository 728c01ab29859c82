//! Malformed HTTP/2 requests (RFC 9113 §8.1.1, §8.3.1; RELIABILITY.md H2-02, H2-04,
//! H2-05): pseudo-header fields that are wrong, missing, repeated or out of order,
//! and bodies longer than their `content-length`, never reach a backend as anything
//! but what the client's frames say; `:authority` is the backend's only `Host`.
//! Frames written byte by byte ([`RawH2`]); what the server answers is read frame by
//! frame, and the echo backend shows what it got in the DATA it sends back.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use sluicegate_testkit::h2_frames::{fields_block, flag, frame, kind, request_block};
use sluicegate_testkit::{Backend, Frame, RawH2, init_tracing, single_cluster, start_proxy};

/// `:status: 400` as h2's encoder writes it: index 12 of HPACK's static table.
const STATUS_400: u8 = 0x80 | 12;

/// A HEADERS frame on stream 1 carrying `block`, with `flags` besides END_HEADERS.
fn headers(block: &[u8], flags: u8) -> Vec<u8> {
    frame(kind::HEADERS, flag::END_HEADERS | flags, 1, block)
}

/// Reads until stream 1 is refused: a RST_STREAM, a `400` head or the connection's
/// GOAWAY (or its end); the frame that said so. Panics on any other response head.
async fn refusal(conn: &mut RawH2, what: &str) -> Option<Frame> {
    while let Some(frame) = conn.next().await {
        match (frame.kind, frame.stream) {
            (kind::RST_STREAM, 1) | (kind::GOAWAY, _) => return Some(frame),
            (kind::HEADERS, 1) => {
                assert_eq!(
                    frame.payload.first(),
                    Some(&STATUS_400),
                    "{what}: {frame:?}"
                );
                return Some(frame);
            }
            _ => {}
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_pseudo_headers_are_refused_and_reach_no_backend() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let get = [(":method", "GET"), (":scheme", "http"), (":authority", "t")];
    let cases: [(&str, Vec<(&str, &str)>); 7] = [
        (
            "a path without its slash",
            vec![get[0], get[1], get[2], (":path", "hello-world")],
        ),
        (
            "a scheme that is a URL",
            vec![
                get[0],
                (":scheme", "http://localhost/?"),
                get[2],
                (":path", "/"),
            ],
        ),
        (
            "a method with a ?",
            vec![(":method", "GET?"), get[1], get[2], (":path", "/")],
        ),
        ("no path", vec![get[0], get[1], get[2]]),
        (
            "two paths",
            vec![get[0], get[1], get[2], (":path", "/"), (":path", "/b")],
        ),
        (
            "a pseudo-header after a field",
            vec![get[0], get[1], get[2], ("x-a", "1"), (":path", "/")],
        ),
        (
            "an unknown pseudo-header",
            vec![get[0], get[1], get[2], (":path", "/"), (":x", "1")],
        ),
    ];
    for (what, fields) in cases {
        let mut conn = RawH2::open(proxy.addr()).await;
        conn.send(&headers(&fields_block(&fields), flag::END_STREAM))
            .await;
        let refused = refusal(&mut conn, what).await;
        eprintln!("{what}: {refused:?}");
    }
    assert_eq!(echo.requests(), 0, "{:?}", echo.request_lines());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_past_the_content_length_resets_the_stream_and_is_never_a_request() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let smuggled: &[u8] = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    for (length, data) in [("0", smuggled), ("5", b"0123456789".as_slice())] {
        let block = fields_block(&[
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "t"),
            (":path", "/"),
            ("content-length", length),
        ]);
        let mut conn = RawH2::open(proxy.addr()).await;
        let bytes = [
            headers(&block, 0),
            frame(kind::DATA, flag::END_STREAM, 1, data),
        ]
        .concat();
        conn.send(&bytes).await;
        let mut reset = false;
        while let Some(frame) = conn.next().await {
            if frame.kind == kind::RST_STREAM && frame.stream == 1 {
                reset = true;
                break;
            }
        }
        assert!(reset, "content-length {length}: the stream was not reset");
    }
    // At most the two POSTs (each may go on before its excess DATA arrives), never
    // the bytes after a body as a request.
    let lines = echo.request_lines();
    assert!(lines.iter().all(|l| l == "POST /"), "{lines:?}");
    assert!(lines.len() <= 2, "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authority_is_the_backends_only_host() {
    init_tracing();
    let echo = Backend::echo();
    let proxy = start_proxy(&single_cluster(&[&echo], &[])).await;
    let mut conn = RawH2::open(proxy.addr()).await;
    // `:authority: t` (in the block) with a `host` field that says otherwise.
    let block = request_block(&[("host", "b")]);
    conn.send(&headers(&block, flag::END_STREAM)).await;
    let mut echoed = Vec::new();
    while let Some(frame) = conn.next().await {
        match (frame.kind, frame.stream) {
            (kind::DATA, 1) => {
                echoed.extend_from_slice(&frame.payload);
                if frame.flags & flag::END_STREAM != 0 {
                    break;
                }
            }
            (kind::RST_STREAM, 1) | (kind::GOAWAY, _) => panic!("refused: {frame:?}"),
            _ => {}
        }
    }
    let echoed = String::from_utf8_lossy(&echoed);
    let hosts: Vec<&str> = echoed.lines().filter(|l| l.starts_with("host: ")).collect();
    assert_eq!(hosts, ["host: t"], "{echoed}");
}
