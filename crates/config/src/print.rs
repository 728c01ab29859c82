//! The effective config as YAML (`sluicegate check --print`, as `nginx -T` or
//! `caddy adapt`): every key written out with the value it has after defaults, in a
//! form [`crate::parse`] reads back into an equal [`Config`]. Durations are written in
//! the compound form the parser reads (`1m30s`, `250ms`); a backend given by host name
//! is written as each address it resolved to, with the name as a comment.
//!
//! One function per spec type, fields in declaration order: a new field is one line in
//! its type's function (and a round-trip test fails until it is there).

use std::time::Duration;

use serde_yaml::{Mapping, Value};

use crate::spec::{
    AdminSpec, Config, HostMatch, LimitKey, ListenerSpec, MatchSpec, PathMatch, RateLimitSpec,
    RouteSpec,
};
use crate::tls_spec::ListenerTlsSpec;

mod cluster;
mod l4;
use cluster::cluster;

/// The config could not be written as YAML (serde_yaml refused the document).
#[derive(Debug, thiserror::Error)]
#[error("cannot write the config as YAML: {0}")]
pub struct PrintError(String);

/// `config` as YAML text with every default filled in (see the module docs).
pub fn to_yaml(config: &Config) -> Result<String, PrintError> {
    let mut document = Value::Mapping(document(config));
    escape_dollars(&mut document);
    let text = serde_yaml::to_string(&document).map_err(|e| PrintError(e.to_string()))?;
    Ok(name_comments(&text, config))
}

/// Writes every `$` of a string value as `$$`: the loader expands `${VAR}` and `$$`
/// in every string value (`env.rs`), so a header match on `${A}` or a path with `$`
/// in it would otherwise be read back as something else. Mapping keys are not
/// expanded, so they are left alone.
fn escape_dollars(value: &mut Value) {
    match value {
        Value::String(text) if text.contains('$') => *text = text.replace('$', "$$"),
        Value::Sequence(items) => items.iter_mut().for_each(escape_dollars),
        Value::Mapping(entries) => entries.values_mut().for_each(escape_dollars),
        Value::Tagged(tagged) => escape_dollars(&mut tagged.value),
        _ => {}
    }
}

/// A mapping from `(key, value)` pairs, in order.
pub(super) fn map<const N: usize>(entries: [(&str, Value); N]) -> Mapping {
    entries
        .into_iter()
        .map(|(key, value)| (Value::from(key), value))
        .collect()
}

fn document(c: &Config) -> Mapping {
    let mut out = sections(c);
    if let Some(limit) = c.max_connections {
        out.insert("max_connections".into(), Value::from(limit));
    }
    out
}

fn sections(c: &Config) -> Mapping {
    let listeners = c
        .listeners
        .iter()
        .map(|l| (Value::from(l.name.as_str()), listener(l)))
        .collect();
    let clusters = c
        .clusters
        .iter()
        .map(|cl| (Value::from(cl.name.as_str()), cluster(cl)))
        .collect();
    map([
        ("listeners", Value::Mapping(listeners)),
        ("clusters", Value::Mapping(clusters)),
        ("drain_timeout", duration(c.drain_timeout)),
        ("access_log", Value::from(c.access_log)),
        (
            "reload",
            Value::Mapping(map([("debounce", duration(c.reload_debounce))])),
        ),
        ("admin", admin(&c.admin)),
    ])
}

fn admin(a: &AdminSpec) -> Value {
    let mut out = map([
        ("address", Value::from(a.address.to_string())),
        ("allow_remote", Value::from(a.allow_remote)),
        ("metrics", Value::from(a.metrics)),
    ]);
    if let Some(health) = a.health_address {
        out.insert("health_address".into(), Value::from(health.to_string()));
    }
    if let Some(socket) = &a.upgrade_socket {
        let path = socket.to_string_lossy().into_owned();
        out.insert("upgrade_socket".into(), Value::from(path));
    }
    Value::Mapping(out)
}

fn listener(l: &ListenerSpec) -> Value {
    let mut out = map([
        ("address", Value::from(l.address.to_string())),
        ("protocol", Value::from(l.protocol.name())),
        ("send_timeout", duration(l.send_timeout)),
        ("max_connections", Value::from(l.max_connections)),
    ]);
    match &l.l4 {
        Some(l4) => out.extend(l4::l4(l4, l.protocol)),
        None => out.extend(http(l)),
    }
    if let Some(rate) = l.connection_rate_limit {
        let rate = map([
            ("connections_per_second", Value::from(rate.per_second)),
            ("burst", Value::from(rate.burst)),
        ]);
        out.insert("connection_rate_limit".into(), Value::Mapping(rate));
    }
    if let Some(t) = &l.tls {
        out.insert("tls".into(), tls(t));
    }
    if let Some(p) = &l.proxy_protocol {
        out.insert("proxy_protocol".into(), l4::proxy_protocol(p));
    }
    Value::Mapping(out)
}

/// The keys of an http listener only.
fn http(l: &ListenerSpec) -> Mapping {
    let mut out = map([
        ("tunnel_idle_timeout", duration(l.tunnel_idle_timeout)),
        ("keepalive_timeout", duration(l.keepalive_timeout)),
        ("header_read_timeout", duration(l.header_read_timeout)),
        ("request_body_timeout", duration(l.request_body_timeout)),
        (
            "trusted_proxies",
            l.trusted_proxies
                .iter()
                .map(|n| Value::from(n.to_string()))
                .collect(),
        ),
        ("merge_slashes", Value::from(l.merge_slashes)),
        ("escaped_slashes", Value::from(l.escaped_slashes.name())),
        ("routes", l.routes.iter().map(route).collect()),
    ]);
    if let Some(limit) = l.max_request_body {
        out.insert("max_request_body".into(), Value::from(limit));
    }
    out
}

fn tls(t: &ListenerTlsSpec) -> Value {
    let path = |p: &std::path::Path| Value::from(p.to_string_lossy().into_owned());
    let certificates = t
        .certificates
        .iter()
        .map(|c| Value::Mapping(map([("cert", path(&c.cert)), ("key", path(&c.key))])));
    let default = t
        .certificates
        .get(t.default_certificate)
        .map(|c| path(&c.cert));
    Value::Mapping(map([
        ("certificates", certificates.collect()),
        ("default_certificate", default.unwrap_or(Value::Null)),
        ("min_version", Value::from(t.min_version.name())),
        (
            "alpn",
            t.alpn.iter().map(|a| Value::from(a.name())).collect(),
        ),
        ("handshake_timeout", duration(t.handshake_timeout)),
    ]))
}

fn route(r: &RouteSpec) -> Value {
    let mut out = Mapping::new();
    if let Some(matcher) = matcher(&r.matcher) {
        out.insert("match".into(), matcher);
    }
    out.insert("cluster".into(), Value::from(r.cluster.as_str()));
    if let Some(limit) = &r.rate_limit {
        out.insert("rate_limit".into(), rate_limit(limit));
    }
    Value::Mapping(out)
}

fn rate_limit(l: &RateLimitSpec) -> Value {
    let key = match &l.key {
        LimitKey::SourceIp => Value::from("source_ip"),
        LimitKey::Route => Value::from("route"),
        LimitKey::Header(name) => Value::Mapping(map([("header", Value::from(name.as_str()))])),
    };
    Value::Mapping(map([
        ("requests_per_second", Value::from(l.per_second)),
        ("burst", Value::from(l.burst)),
        ("key", key),
    ]))
}

/// The route's conditions; `None` for the empty match, which matches everything.
fn matcher(m: &MatchSpec) -> Option<Value> {
    let mut out = Mapping::new();
    if let Some(host) = &m.host {
        out.insert("host".into(), host_text(host));
    }
    match &m.path {
        Some(PathMatch::Exact(path)) => out.insert("path".into(), Value::from(path.as_str())),
        Some(PathMatch::Prefix(path)) => {
            out.insert("path_prefix".into(), Value::from(path.as_str()))
        }
        None => None,
    };
    if !m.methods.is_empty() {
        let methods = m.methods.iter().map(|x| Value::from(x.as_str())).collect();
        out.insert("methods".into(), methods);
    }
    if !m.headers.is_empty() {
        let headers = m
            .headers
            .iter()
            .map(|(name, value)| (Value::from(name.as_str()), Value::from(value.as_str())))
            .collect();
        out.insert("headers".into(), Value::Mapping(headers));
    }
    (!out.is_empty()).then_some(Value::Mapping(out))
}

/// `api.example.com`, or `*.example.com` for a wildcard.
pub(super) fn host_text(host: &HostMatch) -> Value {
    match host {
        HostMatch::Exact(host) => Value::from(host.as_str()),
        HostMatch::Suffix(suffix) => format!("*{suffix}").into(),
    }
}

pub(super) fn number(n: u32) -> Value {
    Value::from(u64::from(n))
}

/// `50%`.
pub(super) fn percent(p: u8) -> Value {
    format!("{p}%").into()
}

pub(super) fn duration(d: Duration) -> Value {
    duration_text(d).into()
}

/// A duration as the parser reads it: `0s`, `250ms`, `30s`, `1m30s`, `1h30m`,
/// `1s500ms`, `1.5ms` (the parser keeps microseconds; finer parts are dropped).
pub(crate) fn duration_text(d: Duration) -> String {
    let micros = d.as_micros();
    if micros == 0 {
        return "0s".to_owned();
    }
    let (hours, rest) = (micros / 3_600_000_000, micros % 3_600_000_000);
    let (minutes, rest) = (rest / 60_000_000, rest % 60_000_000);
    let (seconds, rest) = (rest / 1_000_000, rest % 1_000_000);
    let (millis, micros) = (rest / 1_000, rest % 1_000);
    let mut out = String::new();
    for (n, unit) in [(hours, "h"), (minutes, "m"), (seconds, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if micros > 0 {
        let fraction = format!("{micros:03}");
        out.push_str(&format!("{millis}.{}ms", fraction.trim_end_matches('0')));
    } else if millis > 0 {
        out.push_str(&format!("{millis}ms"));
    }
    out
}

/// Appends `# host:port` to the `- address:` line of each backend given by name. The
/// backends are written in config order and only backend items start with
/// `- address:`, so the n-th such line is the n-th backend; if the counts differ the
/// text is left without comments.
fn name_comments(text: &str, config: &Config) -> String {
    let names: Vec<Option<&str>> = config
        .clusters
        .iter()
        .flat_map(|c| &c.backends)
        .map(|b| b.name.as_deref())
        .collect();
    let is_item = |line: &str| line.trim_start().starts_with("- address: ");
    if text.lines().filter(|l| is_item(l)).count() != names.len() {
        return text.to_owned();
    }
    let mut names = names.into_iter();
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        out.push_str(line);
        if is_item(line)
            && let Some(Some(name)) = names.next()
        {
            out.push_str("  # ");
            out.push_str(name);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::duration::parse_duration;

    #[test]
    fn durations_are_written_in_the_compound_form_the_parser_reads() {
        for (text, written) in [
            ("0s", "0s"),
            ("250ms", "250ms"),
            ("30s", "30s"),
            ("90s", "1m30s"),
            ("1500ms", "1s500ms"),
            ("5400s", "1h30m"),
            ("1h2m3s4ms", "1h2m3s4ms"),
            ("1.0005s", "1s0.5ms"),
            ("0.25ms", "0.25ms"),
            ("168h", "168h"),
            ("60m", "1h"),
        ] {
            let d = parse_duration(text).unwrap();
            assert_eq!(duration_text(d), written, "{text}");
            assert_eq!(parse_duration(written), Ok(d), "{written}");
        }
    }
}
