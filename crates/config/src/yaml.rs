//! From YAML text to [`RawConfig`]: the document is read as a [`Value`] first, so
//! merge keys (`<<: *defaults`) can be applied and `${VAR}` references expanded before
//! the raw types see it. A document that needs neither is deserialised from its text
//! directly, keeping serde_yaml's exact error positions.

use serde_yaml::{Mapping, Value};

use crate::env::{self, Env};
use crate::error::{ConfigError, ConfigErrors};
use crate::locate;
use crate::raw::RawConfig;
use crate::yaml_path::{join, key_text};

/// The merge key of YAML 1.1, which serde_yaml 0.9 reads as a plain key.
const MERGE: &str = "<<";

/// Parses YAML text into the raw types, expanding `${VAR}` from the process
/// environment. See [`from_yaml_with_env`].
pub fn from_yaml(text: &str) -> Result<RawConfig, ConfigErrors> {
    from_yaml_with_env(text, &|name| std::env::var(name).ok())
}

/// Parses YAML text into the raw types, looking `${VAR}` references up with `env`.
///
/// Every key given twice in one mapping is an error (all are reported). Merge keys
/// (`<<: *defaults`) are applied, then `${VAR}`, `${VAR:-default}` and `$$` expanded in
/// string values; every unset variable is reported. Otherwise this stops at the first
/// syntax or shape error, which carries its path and location.
pub fn from_yaml_with_env(text: &str, env: Env<'_>) -> Result<RawConfig, ConfigErrors> {
    let blank = text
        .lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with('#') || l == "---");
    if blank {
        return Err(ConfigErrors(vec![ConfigError {
            path: String::new(),
            message: "the config file is empty".into(),
            location: None,
            transient: false,
        }]));
    }
    load(text, env)
}

/// [`from_yaml_with_env`] past its check for an empty document.
fn load(text: &str, env: Env<'_>) -> Result<RawConfig, ConfigErrors> {
    let duplicates = crate::dupes::duplicate_keys(text);
    if !duplicates.is_empty() {
        return Err(ConfigErrors(duplicates));
    }
    // Reading a Value first also bounds aliases: serde_yaml refuses a document whose
    // aliases expand past its repetition limit (an alias bomb) here.
    let mut value: Value = serde_yaml::from_str(text).map_err(|e| yaml_error(&e, None))?;
    if !needs_rewrite(&value) {
        return serde_yaml::from_str(text).map_err(|e| yaml_error(&e, None));
    }
    let mut errors = Vec::new();
    merge(&mut value, "", &mut errors);
    if let Value::Mapping(top) = &mut value {
        top.retain(|key, _| !is_extension(key));
    }
    if errors.is_empty() {
        env::expand(&mut value, "", env, &mut errors);
    }
    if !errors.is_empty() {
        let list = errors
            .into_iter()
            .map(|(path, message)| ConfigError {
                location: locate::locate(text, &path),
                path,
                message,
                transient: false,
            })
            .collect();
        return Err(ConfigErrors(list));
    }
    // Written out and read back, every scalar is typed as it would be in the file (a
    // plain `7` can be read as a string or a number), which deserialising a Value
    // directly would not do.
    let rewritten = serde_yaml::to_string(&value).map_err(|e| yaml_error(&e, None))?;
    serde_yaml::from_str(&rewritten).map_err(|e| yaml_error(&e, Some(text)))
}

/// A top-level `x-…` key holds anchors to merge elsewhere (as in Docker Compose); it is
/// dropped once merges are applied.
fn is_extension(key: &Value) -> bool {
    key.as_str().is_some_and(|k| k.starts_with("x-"))
}

/// Whether the document has an `x-…` key at the top, a merge key, or a `$` in a
/// string value.
fn needs_rewrite(value: &Value) -> bool {
    matches!(value, Value::Mapping(top) if top.keys().any(is_extension))
        || needs_merge_or_env(value)
}

fn needs_merge_or_env(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('$'),
        Value::Sequence(items) => items.iter().any(needs_merge_or_env),
        Value::Mapping(map) => map
            .iter()
            .any(|(k, v)| k.as_str() == Some(MERGE) || needs_merge_or_env(v)),
        Value::Tagged(tagged) => needs_merge_or_env(&tagged.value),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Applies merge keys as YAML 1.1 defines them: a mapping's own keys win over merged
/// ones, and of a list of merged mappings the earlier win. Merged mappings may merge
/// others themselves. Errors are `(path, message)`.
fn merge(value: &mut Value, path: &str, errors: &mut Vec<(String, String)>) {
    match value {
        Value::Mapping(map) => {
            if let Some(sources) = map.shift_remove(MERGE) {
                merge_into(map, sources, &join(path, MERGE), errors);
            }
            for (key, child) in map.iter_mut() {
                merge(child, &join(path, &key_text(key)), errors);
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                merge(item, &format!("{path}[{i}]"), errors);
            }
        }
        Value::Tagged(tagged) => merge(&mut tagged.value, path, errors),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

fn merge_into(map: &mut Mapping, sources: Value, path: &str, errors: &mut Vec<(String, String)>) {
    let sources = match sources {
        Value::Sequence(list) => list,
        one => vec![one],
    };
    for mut source in sources {
        merge(&mut source, path, errors);
        let Value::Mapping(source) = source else {
            errors.push((
                path.to_string(),
                "expected a mapping or a list of mappings to merge (e.g. <<: *defaults)".into(),
            ));
            continue;
        };
        for (key, value) in source {
            map.entry(key).or_insert(value);
        }
    }
}

/// A serde_yaml error as a config error. With `source`, the error is about a rewritten
/// document: its position there means nothing to the user, so the path at the start
/// of the message (`clusters.app.backends[0]: …`) is looked up in the source instead.
fn yaml_error(error: &serde_yaml::Error, source: Option<&str>) -> ConfigErrors {
    // The location is kept apart, once: serde_yaml appends it to the message, and a
    // syntax error from the scanner names it inside too.
    let mut message = without_locations(&error.to_string());
    if message == "repetition limit exceeded" {
        message = "aliases expand too far (serde_yaml's repetition limit): \
                   an alias bomb (\"billion laughs\") is refused"
            .into();
    }
    // serde_yaml starts a message about a nested value with its path
    // (`clusters.app.backends[0].weight: …`): that is the error's path.
    let (path, message) = match message.split_once(": ") {
        Some((path, rest)) if is_path(path) => (path.to_owned(), rest.to_owned()),
        _ => (String::new(), message),
    };
    let location = match source {
        None => error.location().map(|l| (l.line(), l.column())),
        Some(text) => locate::locate(text, &path),
    };
    ConfigErrors(vec![ConfigError {
        path,
        message: crate::wording::in_yaml_words(&message),
        location,
        transient: false,
    }])
}

/// `message` without its " at line L column C" parts.
fn without_locations(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(" at line ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + " at line ".len()..];
        let digits = |t: &str| t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let line = digits(after);
        let tail = &after[line..];
        match tail.strip_prefix(" column ") {
            Some(col) if line > 0 && digits(col) > 0 => rest = &col[digits(col)..],
            _ => {
                out.push_str(" at line ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether `text` reads as a YAML path (`listeners.web`, `clusters.app.backends[0]`).
fn is_path(text: &str) -> bool {
    !text.is_empty()
        && !text.contains(|c: char| c.is_whitespace() || c == '"' || c == ',')
        && (text.contains(['.', '['])
            || matches!(text, "listeners" | "clusters" | "admin" | "reload"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_cut_from_messages_wherever_they_are() {
        assert_eq!(
            without_locations(
                "did not find expected ',' or ']' at line 2 column 1, while parsing a flow sequence at line 1 column 12"
            ),
            "did not find expected ',' or ']', while parsing a flow sequence"
        );
        assert_eq!(
            without_locations("unknown anchor at line 2 column 4"),
            "unknown anchor"
        );
        // Not a location: kept.
        assert_eq!(without_locations("look at line x"), "look at line x");
    }
}
