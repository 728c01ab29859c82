//! Entry points for `cargo fuzz` (`fuzz/`): the parsers a client's bytes reach first,
//! each with the invariants its callers rely on asserted, so a fuzzer finds a wrong
//! answer as well as a panic. Built only under `--cfg fuzzing` (cargo-fuzz sets it):
//! never part of the library's API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A panic is the finding.

use bytes::BytesMut;

use crate::chunk_scan::{ChunkScan, Scanned};
use crate::h1_server::request_head::{Parsed, Spans, parse};
use crate::head_check::{self, BodyFraming, Head};

/// The in-task server's head parse over `data`, twice on one connection's `Spans`
/// (field names are remembered by position between heads): the buffer is left whole
/// unless exactly one head is taken, and only a head the head guard passes without a
/// body or an upgrade is taken.
pub fn request_head(data: &[u8]) {
    let mut spans = Spans::default();
    let mut buf = BytesMut::from(data);
    for _ in 0..2 {
        let before = buf.clone();
        let answered = matches!(
            head_check::check(&before),
            Ok(Head::Complete {
                body: BodyFraming::Length(0),
                upgrade: false,
                ..
            })
        );
        match parse(&mut buf, &mut spans) {
            Parsed::Request(_) => {
                assert!(answered, "taken, but the guard does not pass it");
                assert!(before.ends_with(&buf) && buf.len() < before.len());
            }
            Parsed::Handoff => {
                assert!(!answered, "handed off, but the guard passes it");
                assert_eq!(buf, before);
                return;
            }
            Parsed::Partial => {
                assert_eq!(buf, before);
                return;
            }
        }
    }
}

/// The head guard's chunked-body scan over `data[1..]`, whole and split at `data[0]`:
/// where a body ends cannot depend on how its bytes arrive.
pub fn chunked_body(data: &[u8]) {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let whole = ChunkScan::new().scan(body);
    let cut = usize::from(cut).min(body.len());
    let mut scan = ChunkScan::new();
    let split = match scan.scan(&body[..cut]) {
        Scanned::End(n) => Scanned::End(n),
        Scanned::Invalid => Scanned::Invalid,
        _ => match scan.scan(&body[cut..]) {
            Scanned::End(n) => Scanned::End(cut + n),
            other => other,
        },
    };
    assert_eq!(whole, split, "cut at {cut}");
}
