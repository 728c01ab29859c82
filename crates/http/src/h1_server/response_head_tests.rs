#![allow(clippy::unwrap_used)]
//! Golden heads: what hyper 1's server writes for the same response (its
//! `role.rs` rules, module doc).

use super::*;
use http::Response;

const KEEP: Asked = Asked {
    head: false,
    http10: false,
    keep_alive: true,
};

/// The head written for `response` (its body ended, or of size `size`) and what
/// `encode` said, the `date` line left out.
fn written(
    response: Response<()>,
    body: (bool, Option<u64>),
    asked: Asked,
) -> (String, Result<Written, InvalidLength>) {
    let (parts, ()) = response.into_parts();
    let hint = body.1.map_or_else(SizeHint::new, SizeHint::with_exact);
    let mut out = Vec::new();
    let result = encode(&parts, (body.0, hint), asked, &mut out);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text
        .split("\r\n")
        .filter(|l| !l.starts_with("date: "))
        .collect();
    (lines.join("\r\n"), result)
}

fn ok(framing: Framing, keep_alive: bool) -> Result<Written, InvalidLength> {
    Ok(Written {
        framing,
        keep_alive,
    })
}

#[test]
fn a_sized_body_gets_its_length_after_the_fields_and_a_date() {
    let response = Response::builder().header("x-a", "1").body(()).unwrap();
    let (parts, ()) = response.into_parts();
    let mut out = Vec::new();
    let result = encode(&parts, (false, SizeHint::with_exact(6)), KEEP, &mut out);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\nx-a: 1\r\ncontent-length: 6\r\ndate: "));
    assert!(text.ends_with(" GMT\r\n\r\n"));
    assert_eq!(result, ok(Framing::Length(6), true));
}

#[test]
fn an_unknown_size_is_chunked_to_http11_and_closes_http10() {
    let (text, result) = written(Response::new(()), (false, None), KEEP);
    assert_eq!(
        text,
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    assert_eq!(result, ok(Framing::Chunked, true));
    let http10 = Asked {
        http10: true,
        ..KEEP
    };
    let (text, result) = written(Response::new(()), (false, None), http10);
    assert_eq!(text, "HTTP/1.0 200 OK\r\n\r\n");
    assert_eq!(result, ok(Framing::Close, false));
    // A 1.0 client kept alive is told so.
    let (text, result) = written(Response::new(()), (false, Some(2)), http10);
    assert_eq!(
        text,
        "HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 2\r\n\r\n"
    );
    assert_eq!(result, ok(Framing::Length(2), true));
}

#[test]
fn bodiless_answers_carry_no_body_and_head_keeps_the_backends_length() {
    let head = Asked { head: true, ..KEEP };
    let response = Response::builder()
        .header("content-length", "1234")
        .body(())
        .unwrap();
    let (text, result) = written(response, (true, Some(0)), head);
    assert_eq!(text, "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n");
    assert_eq!(result, ok(Framing::Empty, true));
    let (text, _) = written(Response::new(()), (true, Some(0)), head);
    assert_eq!(text, "HTTP/1.1 200 OK\r\n\r\n");
    let not_modified = Response::builder()
        .status(304)
        .header("content-length", "9")
        .body(())
        .unwrap();
    let (text, result) = written(not_modified, (true, Some(0)), KEEP);
    assert_eq!(text, "HTTP/1.1 304 Not Modified\r\n\r\n");
    assert_eq!(result, ok(Framing::Empty, true));
    let (text, _) = written(Response::new(()), (true, Some(0)), KEEP);
    assert_eq!(text, "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
}

#[test]
fn close_is_said_once_and_a_responses_close_ends_the_connection() {
    let closing = Asked {
        keep_alive: false,
        ..KEEP
    };
    let (text, result) = written(Response::new(()), (false, Some(1)), closing);
    assert_eq!(
        text,
        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\n"
    );
    assert_eq!(result, ok(Framing::Length(1), false));
    let said = Response::builder()
        .status(503)
        .header("connection", "close")
        .body(())
        .unwrap();
    let (text, result) = written(said, (false, Some(1)), KEEP);
    assert_eq!(
        text,
        "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 1\r\n\r\n"
    );
    assert_eq!(result, ok(Framing::Length(1), false));
}

#[test]
fn a_given_length_delimits_an_unknown_body_and_a_bad_one_writes_nothing_usable() {
    let given = Response::builder()
        .header("content-length", "5")
        .body(())
        .unwrap();
    let (text, result) = written(given, (false, None), KEEP);
    assert_eq!(text, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n");
    assert_eq!(result, ok(Framing::Length(5), true));
    let bad = Response::builder()
        .header("content-length", "five")
        .body(())
        .unwrap();
    assert_eq!(written(bad, (false, None), KEEP).1, Err(InvalidLength));
    let reason = Response::builder().status(599).body(()).unwrap();
    assert!(
        written(reason, (false, Some(0)), KEEP)
            .0
            .starts_with("HTTP/1.1 599 <none>\r\n")
    );
}
