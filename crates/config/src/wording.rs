//! serde's error texts in the words of YAML: serde names Rust types (`expected i64`,
//! `expected struct RawConfig`) and echoes a wrong value whole, however long. A config
//! error must speak of what the file holds, so these are rewritten once, here.

/// Longest echoed string value, in characters; a longer one is cut with `…`.
const MAX_ECHO: usize = 40;

/// `message` with Rust type names replaced by YAML words and long values cut.
pub(crate) fn in_yaml_words(message: &str) -> String {
    let mut out = shorten_strings(message);
    for (rust, yaml) in [
        ("i64", "an integer"),
        ("u64", "an integer"),
        ("i32", "an integer"),
        ("u32", "an integer"),
        ("u16", "an integer"),
        ("u8", "an integer"),
        ("f64", "a number"),
        ("f32", "a number"),
        ("a sequence", "a list"),
    ] {
        out = replace_expected(&out, rust, yaml);
    }
    if let Some(at) = out.find("expected struct ") {
        let rest = &out[at + "expected struct ".len()..];
        let end = rest
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(rest.len());
        out = format!("{}expected a mapping{}", &out[..at], &rest[end..]);
    }
    out.replace("invalid type: sequence", "invalid type: a list")
        .replace("invalid type: map", "invalid type: a mapping")
}

/// Replaces `expected RUST` when RUST is the whole word.
fn replace_expected(text: &str, rust: &str, yaml: &str) -> String {
    let needle = format!("expected {rust}");
    match text.find(&needle) {
        Some(at)
            if !text[at + needle.len()..]
                .starts_with(|c: char| c.is_alphanumeric() || c == '_') =>
        {
            format!(
                "{}expected {yaml}{}",
                &text[..at],
                &text[at + needle.len()..]
            )
        }
        _ => text.to_owned(),
    }
}

/// Cuts each `string "…"` value longer than [`MAX_ECHO`] characters.
fn shorten_strings(text: &str) -> String {
    let Some(at) = text.find("string \"") else {
        return text.to_owned();
    };
    let start = at + "string \"".len();
    let Some(len) = text[start..].rfind('"') else {
        return text.to_owned();
    };
    let value = &text[start..start + len];
    format!("{}{}{}", &text[..start], echo(value), &text[start + len..])
}

/// `value` as a message may quote it: cut after [`MAX_ECHO`] characters with `…`.
pub(crate) fn echo(value: &str) -> String {
    if value.chars().count() <= MAX_ECHO {
        return value.to_owned();
    }
    let cut: String = value.chars().take(MAX_ECHO).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_types_become_yaml_words() {
        assert_eq!(
            in_yaml_words("invalid type: sequence, expected struct RawConfig"),
            "invalid type: a list, expected a mapping"
        );
        assert_eq!(
            in_yaml_words("invalid type: string \"lots\", expected i64"),
            "invalid type: string \"lots\", expected an integer"
        );
        assert_eq!(
            in_yaml_words("invalid type: map, expected a sequence"),
            "invalid type: a mapping, expected a list"
        );
        assert_eq!(in_yaml_words("expected u32x"), "expected u32x");
    }

    #[test]
    fn long_values_are_cut() {
        let long = "x".repeat(500);
        assert_eq!(
            in_yaml_words(&format!("invalid type: string \"{long}\", expected i64")),
            format!(
                "invalid type: string \"{}…\", expected an integer",
                "x".repeat(40)
            )
        );
    }
}
