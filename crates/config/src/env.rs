//! `${VAR}` and `${VAR:-default}` in scalar values, expanded from the environment;
//! `$$` is a literal `$`. Expansion runs on the parsed document, so a variable's value
//! is only ever text in one scalar: it cannot add keys or structure.

use serde_yaml::Value;

use crate::yaml_path::{join, key_text};

/// Looks up an environment variable; injectable so tests need not touch the process
/// environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Expands every string value under `value` (not mapping keys). Errors are
/// `(path, message)`.
pub(crate) fn expand(
    value: &mut Value,
    path: &str,
    env: Env<'_>,
    errors: &mut Vec<(String, String)>,
) {
    match value {
        Value::String(text) if text.contains('$') => match expand_str(text, env) {
            Ok((expanded, substituted)) => *value = retype(expanded, substituted),
            Err(message) => errors.push((path.to_string(), message)),
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand(item, &format!("{path}[{i}]"), env, errors);
            }
        }
        Value::Mapping(map) => {
            for (key, child) in map.iter_mut() {
                expand(child, &join(path, &key_text(key)), env, errors);
            }
        }
        Value::Tagged(tagged) => expand(&mut tagged.value, path, env, errors),
        _ => {}
    }
}

/// A value that came from a variable and reads as a whole number or `true`/`false`
/// is typed as if it had been written unquoted, so `weight: ${WEIGHT}` works.
fn retype(text: String, substituted: bool) -> Value {
    if substituted {
        if let Ok(n) = text.parse::<i64>() {
            return Value::Number(n.into());
        }
        if let Ok(b) = text.parse::<bool>() {
            return Value::Bool(b);
        }
    }
    Value::String(text)
}

/// Expands one string; also says whether any `${…}` was substituted.
fn expand_str(text: &str, env: Env<'_>) -> Result<(String, bool), String> {
    let mut out = String::with_capacity(text.len());
    let mut substituted = false;
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(next) = after.strip_prefix('$') {
            out.push('$');
            rest = next;
        } else if let Some(body) = after.strip_prefix('{') {
            let close = body.find('}').ok_or_else(|| {
                format!("unterminated \"${{\" in \"{text}\" (write $$ for a literal $)")
            })?;
            out.push_str(&lookup(&body[..close], env)?);
            substituted = true;
            rest = &body[close + 1..];
        } else {
            // A `$` not followed by `{` or `$` is kept as written.
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok((out, substituted))
}

/// The value of `NAME` or `NAME:-default` (the default also replaces an empty value,
/// as in the shell).
fn lookup(reference: &str, env: Env<'_>) -> Result<String, String> {
    let (name, default) = match reference.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (reference, None),
    };
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "invalid environment variable name \"{name}\" in \"${{{reference}}}\" \
             (letters, digits and '_'; write $$ for a literal $)"
        ));
    }
    match (env(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_string()),
        (Some(value), _) => Ok(value),
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(format!(
            "environment variable {name} is not set (write ${{{name}:-default}} to give a default)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::expand_str;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("10.0.0.1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<String, String> {
        expand_str(text, &env).map(|(s, _)| s)
    }

    #[test]
    fn expands_variables_defaults_and_escapes() {
        assert_eq!(run("${HOST}:80").as_deref(), Ok("10.0.0.1:80"));
        assert_eq!(run("${NOPE:-127.0.0.1}:80").as_deref(), Ok("127.0.0.1:80"));
        assert_eq!(run("${HOST:-x}").as_deref(), Ok("10.0.0.1"));
        assert_eq!(run("${EMPTY:-d}").as_deref(), Ok("d"));
        assert_eq!(run("${EMPTY}").as_deref(), Ok(""));
        assert_eq!(run("${NOPE:-}").as_deref(), Ok(""));
        assert_eq!(run("a$${HOST}b$$").as_deref(), Ok("a${HOST}b$"));
        assert_eq!(run("cost: 5$ or $5").as_deref(), Ok("cost: 5$ or $5"));
        assert_eq!(run("${NOPE:-a:-b}").as_deref(), Ok("a:-b"));
    }

    #[test]
    fn rejects_unset_and_malformed_references() {
        assert_eq!(
            run("${NOPE}"),
            Err(
                "environment variable NOPE is not set (write ${NOPE:-default} to give a default)"
                    .into()
            )
        );
        assert!(run("${HOST").unwrap_err().contains("unterminated"));
        assert!(
            run("${}")
                .unwrap_err()
                .contains("invalid environment variable name \"\"")
        );
        assert!(
            run("${1X}")
                .unwrap_err()
                .contains("invalid environment variable name")
        );
        assert!(
            run("${A B}")
                .unwrap_err()
                .contains("invalid environment variable name")
        );
    }
}
