//! Looking a field up in a request or response head. Most heads hold a handful of
//! fields and lack nearly every name the proxy looks for: comparing a name with each
//! of theirs (a standard name compares as a number, another by its length first)
//! tells an absent one for less than hashing it and probing the map's table. A head
//! of at most [`SCANNED`] fields is scanned first, and looked up only when the name is
//! there; a longer one is looked up at once. Same answers as [`HeaderMap::get`] and
//! [`HeaderMap::get_all`].
//!
//! Why: the request path asks for a dozen names a request (`Host`,
//! `Transfer-Encoding`, `Via`, `Content-Type`, `TE`, `Content-Length`, `Connection`
//! …), nearly all absent, at ~110 instructions each under callgrind. Scanning with
//! the map's own iterator instead (which walks each name's extra values too) cost more
//! than the lookups it saved: the scan here is over the names alone.

use http::header::ValueIter;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Heads with up to this many fields are scanned: past it the scan's cost (one
/// comparison a field) overtakes a lookup's (one hash and a probe or two).
pub const SCANNED: usize = 16;

/// Whether `name` is surely absent: the head is short and none of its names is it.
fn absent(headers: &HeaderMap, name: &HeaderName) -> bool {
    headers.len() <= SCANNED && !headers.keys().any(|n| n == name)
}

/// The first value of `name`, as [`HeaderMap::get`].
pub fn get<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    if absent(headers, name) {
        return None;
    }
    headers.get(name)
}

/// Whether the head has `name`, as [`HeaderMap::contains_key`].
pub fn contains(headers: &HeaderMap, name: &HeaderName) -> bool {
    if headers.len() <= SCANNED {
        return headers.keys().any(|n| n == name);
    }
    headers.contains_key(name)
}

/// The values of `name` in order, as [`HeaderMap::get_all`].
pub fn get_all<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Values<'a> {
    if absent(headers, name) {
        return Values(None);
    }
    Values(Some(headers.get_all(name).iter()))
}

/// The values of one name: [`get_all`].
#[derive(Debug)]
pub struct Values<'a>(Option<ValueIter<'a, HeaderValue>>);

impl<'a> Iterator for Values<'a> {
    type Item = &'a HeaderValue;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.as_mut()?.next()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http::header;

    /// A head of `n` fields: `x-0` … cycling over a few names, with repeats.
    fn head(n: usize) -> HeaderMap {
        let names = ["host", "via", "x-forwarded-for", "accept", "via", "cookie"];
        let mut headers = HeaderMap::new();
        for i in 0..n {
            let name = HeaderName::from_static(names[i % names.len()]);
            headers.append(name, HeaderValue::from_str(&format!("v{i}")).unwrap());
        }
        headers
    }

    #[test]
    fn scanned_and_hashed_heads_answer_as_the_map_does() {
        let names = [
            header::HOST,
            header::VIA,
            header::COOKIE,
            header::TE,
            HeaderName::from_static("x-forwarded-for"),
            HeaderName::from_static("x-absent"),
        ];
        // Short heads are scanned, long ones looked up: both must agree with the map.
        for n in [0, 1, 5, SCANNED, SCANNED + 1, 40] {
            let headers = head(n);
            for name in &names {
                let want: Vec<_> = headers.get_all(name).iter().collect();
                let got: Vec<_> = get_all(&headers, name).collect();
                assert_eq!(got, want, "{name} in a head of {n}");
                assert_eq!(get(&headers, name), headers.get(name), "{name} in {n}");
                assert_eq!(contains(&headers, name), headers.contains_key(name));
            }
        }
    }
}
