//! Properties of [`parse`] over generated heads and arbitrary bytes: it never panics,
//! it takes exactly one head off the buffer or leaves the buffer as it was, every
//! prefix of a head is partial, and the request it builds is the head's own, field for
//! field, even on a connection whose previous head had other names at the same places
//! (the names are remembered by position, [`FieldNames`]).
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;

/// A head's parts: method, target, fields (name as spelt, value).
type Generated = (&'static str, String, Vec<(String, String)>);

fn head() -> impl Strategy<Value = Generated> {
    let method = proptest::sample::select(&["GET", "HEAD", "DELETE", "OPTIONS", "PURGE"][..]);
    let target = "/[a-zA-Z0-9._~%!$&'()*+,;=:@/-]{0,40}(\\?[a-z0-9=&]{0,20})?";
    let name = prop_oneof![
        proptest::sample::select(&["Host", "host", "Accept", "X-A", "x-b", "User-Agent"][..])
            .prop_map(str::to_string),
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,30}",
    ]
    .prop_filter("no framing or upgrade field", |n| {
        ![
            "content-length",
            "transfer-encoding",
            "upgrade",
            "connection",
        ]
        .contains(&n.to_ascii_lowercase().as_str())
    });
    let value = "[ -~]{0,40}".prop_map(|v| v.trim().to_string());
    (method, target, prop::collection::vec((name, value), 0..20))
}

fn bytes_of((method, target, fields): &Generated) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in fields {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Checks that `parsed` is `generated`'s request and the buffer holds `rest`.
fn is_request(
    parsed: Parsed,
    generated: &Generated,
    buf: &BytesMut,
    rest: &[u8],
) -> Result<(), TestCaseError> {
    let Parsed::Request(request) = parsed else {
        return Err(TestCaseError::fail(format!("not a request: {parsed:?}")));
    };
    let (method, target, fields) = generated;
    prop_assert_eq!(request.parts.method.as_str(), *method);
    prop_assert_eq!(request.parts.uri.to_string(), target.clone());
    let got: Vec<(String, String)> = request
        .parts
        .headers
        .iter()
        .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    // A map groups a name's values: compare per name, in order within each.
    let mut want: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    let mut got = got;
    want.sort_by(|a, b| a.0.cmp(&b.0));
    got.sort_by(|a, b| a.0.cmp(&b.0));
    prop_assert_eq!(got, want);
    prop_assert!(request.keep_alive);
    prop_assert_eq!(&buf[..], rest);
    Ok(())
}

/// Random bytes, or a generated head with up to four bytes overwritten (mostly by the
/// bytes framing turns on: CR, LF, space, colon, NUL, tab).
fn damaged_or_random() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![proptest::sample::select(&b"\r\n :\0\t"[..]), any::<u8>(),];
    let damaged = (head(), prop::collection::vec((any::<usize>(), byte), 1..5)).prop_map(
        |(generated, damage)| {
            let mut bytes = bytes_of(&generated);
            for (at, byte) in damage {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            bytes
        },
    );
    prop_oneof![prop::collection::vec(any::<u8>(), 0..300), damaged]
}

proptest! {
    #[test]
    fn any_bytes_leave_the_buffer_whole_or_lose_exactly_one_head(bytes in damaged_or_random()) {
        let mut buf = BytesMut::from(&bytes[..]);
        let parsed = parse(&mut buf, &mut Spans::default());
        // Taken only what the head guard passes as a bodiless, non-upgrade head.
        let answered = matches!(
            head_check::check(&bytes),
            Ok(Head::Complete { body: BodyFraming::Length(0), upgrade: false, .. })
        );
        match parsed {
            Parsed::Request(_) => {
                prop_assert!(answered);
                prop_assert!(bytes.ends_with(&buf) && buf.len() < bytes.len());
            }
            Parsed::Handoff => {
                prop_assert!(!answered);
                prop_assert_eq!(&buf[..], &bytes[..]);
            }
            Parsed::Partial => prop_assert_eq!(&buf[..], &bytes[..]),
        }
    }

    #[test]
    fn two_heads_on_one_connection_are_each_their_own(
        first in head(),
        second in head(),
        rest in prop::collection::vec(any::<u8>(), 0..20),
    ) {
        let mut spans = Spans::default();
        let mut both = bytes_of(&first);
        both.extend_from_slice(&bytes_of(&second));
        both.extend_from_slice(&rest);
        let mut buf = BytesMut::from(&both[..]);
        let parsed = parse(&mut buf, &mut spans);
        let after_first = buf[..].to_vec();
        is_request(parsed, &first, &buf, &after_first)?;
        prop_assert_eq!(&after_first[..], &both[bytes_of(&first).len()..]);
        let parsed = parse(&mut buf, &mut spans);
        is_request(parsed, &second, &buf.clone(), &rest)?;
    }

    #[test]
    fn every_prefix_of_a_head_is_partial_and_left_whole(generated in head(), cut in any::<usize>()) {
        let bytes = bytes_of(&generated);
        let prefix = &bytes[..cut % bytes.len()];
        let mut buf = BytesMut::from(prefix);
        let parsed = parse(&mut buf, &mut Spans::default());
        prop_assert!(matches!(parsed, Parsed::Partial), "{parsed:?}");
        prop_assert_eq!(&buf[..], prefix);
    }
}
