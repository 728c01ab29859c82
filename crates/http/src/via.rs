//! The `Via` entry this process adds to every request it forwards (RFC 9110 §7.6.3),
//! and loop detection from it.
//!
//! The entry names this process (`1.1 sluicegate-3f9c0a1e`: a random tag made at
//! start), so a request that comes back through the same process, a cluster whose
//! backend is one of its own listeners, can be recognised. Each pass adds one entry;
//! past [`MAX_OWN_HOPS`] the request is answered 508 instead of going round until the
//! response timeout with a new connection at every turn. Passing through another
//! sluicegate process (edge → internal) is not a loop: its tag differs.

use std::sync::OnceLock;

use http::{HeaderMap, HeaderValue, header};
use sluicegate_upstream::short_head;

/// Passes through this process a request may make: a listener forwarding to another
/// listener of the same process is a legitimate design, a request that did so more
/// than this is a loop.
pub(crate) const MAX_OWN_HOPS: usize = 3;

/// This process's `Via` entry.
fn own_entry() -> &'static str {
    static ENTRY: OnceLock<String> = OnceLock::new();
    ENTRY.get_or_init(|| format!("1.1 sluicegate-{:08x}", fastrand::u32(..)))
}

/// How many times the request already passed through this process.
pub(crate) fn own_hops(headers: &HeaderMap) -> usize {
    let own = own_entry();
    short_head::get_all(headers, &header::VIA)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|entry| entry.trim() == own)
        .count()
}

/// This process's `Via` entry as a field value (made once) and as text; `None` if
/// it cannot be a value (it always can: letters, digits, a space and a dash).
/// `forwarded.rs` adds it, or appends it to a `Via` the request already has.
pub(crate) fn own_via() -> Option<(&'static HeaderValue, &'static str)> {
    static VALUE: OnceLock<Option<HeaderValue>> = OnceLock::new();
    let value = VALUE.get_or_init(|| HeaderValue::from_str(own_entry()).ok());
    value.as_ref().map(|value| (value, own_entry()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::headers::append_to_list;

    #[test]
    fn each_pass_adds_one_entry_and_is_counted() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::VIA,
            HeaderValue::from_static("1.1 edge, 1.0 sluicegate-other"),
        );
        assert_eq!(own_hops(&headers), 0);
        let (_, entry) = own_via().unwrap();
        append_to_list(&mut headers, &header::VIA, entry);
        append_to_list(&mut headers, &header::VIA, entry);
        assert_eq!(own_hops(&headers), 2);
        let via = headers[header::VIA].to_str().unwrap_or_default();
        assert!(
            via.starts_with("1.1 edge, 1.0 sluicegate-other, 1.1 sluicegate-"),
            "{via}"
        );
    }
}
