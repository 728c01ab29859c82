//! Header rewriting at the proxy hop: hop-by-hop fields out (RFC 9110 §7.6.1), and
//! list fields joined (the `X-Forwarded-*`, `X-Real-IP` and `X-Request-Id` fields go
//! in through `forwarded.rs`). (An upgrade that is
//! honoured gets `Connection: upgrade` and its `Upgrade` back afterwards:
//! [`crate::upgrade::restore`].)

use http::HeaderMap;
use http::header::{self, HeaderName, HeaderValue};
use sluicegate_upstream::short_head;

/// Fields that describe one connection and never cross a proxy. `HTTP2-Settings`
/// belongs to an `h2c` upgrade (RFC 7540 §3.2.1), which is never honoured. `Expect`
/// is met at this hop, as Envoy does by default: hyper answers `100-continue` when
/// the body is first read (`request_check.rs` refuses any other expectation), so the
/// backend is not asked to meet it again.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::TRAILER,
    HeaderName::from_static("http2-settings"),
    header::EXPECT,
];

/// Fields a `Connection` option can never remove (RFC 9110 §7.6.1: an option must not
/// name a field meant for every recipient): what defines the request or response, and
/// what sluicegate itself sets. Otherwise `Connection: Host` would send an HTTP/1.1
/// request without `Host`, and a client could strip its hop's `X-Forwarded-For`.
const NEVER_HOP_BY_HOP: [&str; 11] = [
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "x-request-id",
    "forwarded",
    "via",
];

/// Removes the hop-by-hop fields and every field named in `Connection`, except the
/// ones in [`NEVER_HOP_BY_HOP`].
///
/// On every request and response, so it allocates nothing and looks up only what is
/// there: one pass over the names notes which hop-by-hop fields the head has (most
/// have none, or only `Connection: keep-alive`), only those are removed, a parsed
/// `Connection` value is cloned by reference count, and its options that are not
/// hop-by-hop fields already are removed by `&str` (looked up without building a
/// `HeaderName`). Measured under callgrind (a backend's `Connection: keep-alive`
/// response): removing all eight names each time cost 1,850 instructions a response.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let present = present_hop_by_hop(headers);
    if present == 0 {
        return;
    }
    if present & 1 != 0 {
        // `HOP_BY_HOP[0]` is `Connection`.
        let mut values = short_head::get_all(headers, &header::CONNECTION);
        let first = values.next().cloned();
        // Empty (no allocation) unless the head has more than one `Connection` line.
        let more: Vec<HeaderValue> = values.cloned().collect();
        for value in first.iter().chain(&more) {
            remove_options(headers, value);
        }
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// A bit per [`HOP_BY_HOP`] field the head has (bit `i` for `HOP_BY_HOP[i]`).
fn present_hop_by_hop(headers: &HeaderMap) -> u16 {
    headers.keys().fold(0, |present, name| {
        match HOP_BY_HOP.iter().position(|hop| hop == name) {
            Some(i) => present | 1 << i,
            None => present,
        }
    })
}

/// Removes the fields a `Connection` value names, except the ones never hop-by-hop
/// and the hop-by-hop ones (removed by name after it).
fn remove_options(headers: &mut HeaderMap, connection: &HeaderValue) {
    // Nearly every `Connection` is one of these two: they name no field.
    let plain = connection.as_bytes();
    if plain.eq_ignore_ascii_case(b"keep-alive") || plain.eq_ignore_ascii_case(b"close") {
        return;
    }
    let Ok(options) = connection.to_str() else {
        return;
    };
    for option in options.split(',').map(str::trim) {
        let kept = NEVER_HOP_BY_HOP
            .iter()
            .any(|never| never.eq_ignore_ascii_case(option));
        let hop = HOP_BY_HOP
            .iter()
            .any(|hop| hop.as_str().eq_ignore_ascii_case(option));
        if !option.is_empty() && !kept && !hop {
            headers.remove(option);
        }
    }
}

/// Appends `entry` to the comma-separated list field `name`, joining every line of it
/// into one (`X-Forwarded-For: a` + `X-Forwarded-For: b` + `c` → `a, b, c`).
pub(crate) fn append_to_list(headers: &mut HeaderMap, name: &HeaderName, entry: &str) {
    let before: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let value = if before.is_empty() {
        HeaderValue::from_str(entry)
    } else {
        HeaderValue::from_str(&format!("{}, {entry}", before.join(", ")))
    };
    if let Ok(value) = value {
        headers.insert(name.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_listed_and_named_fields() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("te", HeaderValue::from_static("trailers"));
        h.insert("proxy-connection", HeaderValue::from_static("keep-alive"));
        h.insert("trailer", HeaderValue::from_static("x"));
        h.insert(
            "http2-settings",
            HeaderValue::from_static("AAMAAABkAAQAAP__"),
        );
        h.insert("x-kept", HeaderValue::from_static("yes"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn every_connection_line_counts_and_protected_fields_stay_in_any_case() {
        let mut h = HeaderMap::new();
        h.append("connection", HeaderValue::from_static("X-One"));
        h.append(
            "connection",
            HeaderValue::from_static(" , x-two ,HOST, X-Forwarded-For"),
        );
        for name in ["x-one", "x-two", "host", "x-forwarded-for", "x-kept"] {
            h.insert(name, HeaderValue::from_static("v"));
        }
        remove_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["host", "x-forwarded-for", "x-kept"]);
    }

    #[test]
    fn options_naming_hop_by_hop_fields_go_with_them_in_any_case() {
        let mut h = HeaderMap::new();
        h.insert(
            "connection",
            HeaderValue::from_static("Keep-Alive, UPGRADE, TE"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert("x-kept", HeaderValue::from_static("yes"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["x-kept"], "yes");

        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("keep-alive"));
        h.insert("content-length", HeaderValue::from_static("6"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert_eq!(h["content-length"], "6");
    }

    #[test]
    fn a_head_without_hop_by_hop_fields_is_left_alone() {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("a"));
        h.insert("x-keep-alive-ish", HeaderValue::from_static("b"));
        let before = h.clone();
        remove_hop_by_hop(&mut h);
        assert_eq!(h, before);
    }

    /// Names a head is drawn from: every hop-by-hop and protected name, and ordinary
    /// ones, each in any case.
    const NAMES: [&str; 12] = [
        "connection",
        "keep-alive",
        "te",
        "upgrade",
        "transfer-encoding",
        "host",
        "x-forwarded-for",
        "via",
        "x-a",
        "x-b",
        "cookie",
        "accept",
    ];

    fn spelt(name: &str, upper: u16) -> String {
        name.chars()
            .enumerate()
            .map(|(i, c)| {
                if upper >> (i % 16) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }

    /// A head: fields from [`NAMES`], and `Connection` lines listing names from it
    /// (any case, with spaces and empty items).
    fn head() -> impl proptest::strategy::Strategy<Value = Vec<(String, String)>> {
        use proptest::prelude::*;
        let name = (0..NAMES.len(), any::<u16>()).prop_map(|(i, up)| spelt(NAMES[i], up));
        let option = prop_oneof![name.clone(), Just(String::new()), Just("close".into())];
        let connection = prop::collection::vec(option, 1..4).prop_map(|o| o.join(" ,"));
        let field = prop_oneof![
            (name, "[a-z0-9=]{0,6}"),
            connection.prop_map(|value| ("Connection".to_string(), value)),
        ];
        prop::collection::vec(field, 0..12)
    }

    /// What [`remove_hop_by_hop`] must leave, worked out the slow way: every field that
    /// is neither hop-by-hop nor named by a `Connection` line (unless protected), with
    /// its values in order.
    fn expected(fields: &[(String, String)]) -> Vec<(String, String)> {
        let named: Vec<String> = fields
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(',').map(|o| o.trim().to_ascii_lowercase()))
            .collect();
        fields
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .filter(|(n, _)| !HOP_BY_HOP.iter().any(|hop| hop.as_str() == n))
            .filter(|(n, _)| NEVER_HOP_BY_HOP.contains(&n.as_str()) || !named.contains(n))
            .collect()
    }

    fn sorted_by_name(mut fields: Vec<(String, String)>) -> Vec<(String, String)> {
        fields.sort_by(|a, b| a.0.cmp(&b.0)); // stable: values keep their order
        fields
    }

    proptest::proptest! {
        #[test]
        fn hop_by_hop_removal_matches_the_rule(fields in head()) {
            let mut h = HeaderMap::new();
            for (name, value) in &fields {
                h.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                );
            }
            remove_hop_by_hop(&mut h);
            let left: Vec<(String, String)> = h
                .iter()
                .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
                .collect();
            proptest::prop_assert_eq!(sorted_by_name(left), sorted_by_name(expected(&fields)));
        }

        #[test]
        fn a_list_field_gains_one_entry_at_its_end_on_one_line(
            before in proptest::collection::vec("[a-z0-9.:]{1,8}", 0..4),
            entry in "[a-z0-9.:]{1,8}",
        ) {
            let name = HeaderName::from_static("x-forwarded-for");
            let mut h = HeaderMap::new();
            for value in &before {
                h.append(&name, HeaderValue::from_str(value).unwrap());
            }
            append_to_list(&mut h, &name, &entry);
            let lines: Vec<&HeaderValue> = h.get_all(&name).iter().collect();
            proptest::prop_assert_eq!(lines.len(), 1);
            let items: Vec<&str> = lines[0].to_str().unwrap().split(", ").collect();
            let mut want: Vec<&str> = before.iter().map(String::as_str).collect();
            want.push(&entry);
            proptest::prop_assert_eq!(items, want);
        }
    }
}
