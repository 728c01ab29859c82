//! Fields the proxy adds to a request head (`X-Forwarded-*`, `X-Real-IP`,
//! `X-Request-Id`, `Via`), carried beside its header map ([`crate::Outgoing`]) rather
//! than in it, and written after the map's fields by the client that sends the
//! request: the in-task client writes them from here (`direct/request_head.rs`);
//! before hyper's clients take a request, [`crate::Outgoing::merged`] moves them into
//! its map.
//!
//! Why: inserted into the map they cost ~1,700 instructions a request under callgrind
//! (six inserts, each hashing its name, and the map grown from the size hyper made it
//! for the client's fields, reallocated and rehashed), and the grown map took 1.2 KiB
//! of every request in flight. Here they cost one short vector.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The fields added to one request head, in the order they are written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddedFields(Vec<(HeaderName, HeaderValue)>);

impl AddedFields {
    /// Room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }

    /// Adds a field (after those added before it).
    pub fn push(&mut self, name: HeaderName, value: HeaderValue) {
        self.0.push((name, value));
    }

    /// The fields, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(name, value)| (name, value))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends the fields to `headers` (after its own), for a client that writes only
    /// the map.
    pub fn append_to(self, headers: &mut HeaderMap) {
        if self.0.is_empty() {
            return;
        }
        headers.reserve(self.0.len());
        for (name, value) in self.0 {
            headers.append(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn appended_fields_follow_the_maps_own() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("a"));
        let mut added = AddedFields::with_capacity(2);
        added.push(
            HeaderName::from_static("x-real-ip"),
            HeaderValue::from_static("1.2.3.4"),
        );
        added.push(
            HeaderName::from_static("host"),
            HeaderValue::from_static("b"),
        );
        added.append_to(&mut headers);
        let hosts: Vec<_> = headers.get_all("host").iter().collect();
        assert_eq!(hosts, ["a", "b"]);
        assert_eq!(headers["x-real-ip"], "1.2.3.4");
        // No fields leave the map as it is.
        let before = headers.clone();
        AddedFields::default().append_to(&mut headers);
        assert_eq!(headers, before);
    }
}
