//! The request path as routing and the backend both see it (RFC 3986 §6.2.2): each
//! request's path is normalised once, before routing, and forwarded normalised, so a
//! route cannot be bypassed by a spelling the backend would read as the same path.
//!
//! In order: percent-encoded unreserved characters are decoded (`%61` → `a`,
//! `%2E` → `.`) and the other escapes written in upper case (`%2f` → `%2F`);
//! encoded slashes (`%2F`, `%5C`) are kept, refused or decoded as the listener says;
//! runs of `/` are merged (unless turned off); dot-segments are removed (`/a/../b` →
//! `/b`, never above the root). A path that needs none of it is not copied.

use std::borrow::Cow;

/// What to do with `%2F` and `%5C` in a path (Envoy's
/// `path_with_escaped_slashes_action`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EscapedSlashes {
    /// Leave them encoded: they are not separators (RFC 3986), so `/a%2F..%2Fb` is one
    /// segment. The default: some APIs carry encoded slashes in identifiers.
    #[default]
    Keep,
    /// Refuse the request (400).
    Reject,
    /// Decode them to `/` and `\` before the rest of the normalisation, for backends
    /// that decode them too (nginx does).
    Decode,
}

/// A listener's path rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathRules {
    /// Merge runs of `/` into one.
    pub merge_slashes: bool,
    /// What to do with encoded slashes.
    pub escaped_slashes: EscapedSlashes,
}

impl Default for PathRules {
    fn default() -> Self {
        Self {
            merge_slashes: true,
            escaped_slashes: EscapedSlashes::Keep,
        }
    }
}

/// Why a path was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// `%2F` or `%5C` with [`EscapedSlashes::Reject`].
    EscapedSlash,
}

/// `path` normalised under `rules`; borrowed when it already was.
pub fn normalize(path: &str, rules: PathRules) -> Result<Cow<'_, str>, PathError> {
    if is_normal(path.as_bytes(), rules) {
        return Ok(Cow::Borrowed(path));
    }
    let decoded = decode(path.as_bytes(), rules.escaped_slashes)?;
    let merged = if rules.merge_slashes {
        merge_slashes(&decoded)
    } else {
        decoded
    };
    Ok(Cow::Owned(remove_dot_segments(&merged)))
}

/// Whether nothing would change: no escape, no `//` (when merged), no dot-segment.
fn is_normal(path: &[u8], rules: PathRules) -> bool {
    if path.first() != Some(&b'/') {
        return false;
    }
    let mut previous = 0u8;
    for (i, &b) in path.iter().enumerate() {
        match b {
            b'%' => return false,
            b'/' if previous == b'/' && rules.merge_slashes => return false,
            b'.' if previous == b'/' => {
                let rest = &path[i..];
                if rest == b"."
                    || rest == b".."
                    || rest.starts_with(b"./")
                    || rest.starts_with(b"../")
                {
                    return false;
                }
            }
            _ => {}
        }
        previous = b;
    }
    true
}

/// Decodes unreserved escapes (and slashes, with `Decode`), upper-cases the others.
fn decode(path: &[u8], slashes: EscapedSlashes) -> Result<String, PathError> {
    let mut out = String::with_capacity(path.len() + 1);
    if path.first() != Some(&b'/') {
        out.push('/');
    }
    let mut i = 0;
    while i < path.len() {
        let b = path[i];
        if b != b'%' {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let (Some(hi), Some(lo)) = (path.get(i + 1).and_then(hex), path.get(i + 2).and_then(hex))
        else {
            return Err(PathError::BadEscape);
        };
        let byte = hi << 4 | lo;
        match byte {
            b'/' | b'\\' if slashes == EscapedSlashes::Reject => {
                return Err(PathError::EscapedSlash);
            }
            b'/' | b'\\' if slashes == EscapedSlashes::Decode => out.push(char::from(byte)),
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => {
                out.push(char::from(b));
            }
            b => {
                out.push('%');
                out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
                out.push(char::from(HEX_UPPER[usize::from(b & 0xF)]));
            }
        }
        i += 3;
    }
    Ok(out)
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex(b: &u8) -> Option<u8> {
    char::from(*b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

fn merge_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// RFC 3986 §5.2.4 on an absolute path, segment by segment; `..` at the root stays
/// at the root. A trailing `.` or `..` leaves a trailing `/` (`/a/b/..` → `/a/`).
fn remove_dot_segments(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    let parts: Vec<&str> = path.split('/').skip(1).collect();
    let last = parts.len().saturating_sub(1);
    let mut trailing_slash = false;
    for (i, segment) in parts.iter().enumerate() {
        match *segment {
            "." => trailing_slash = i == last,
            ".." => {
                segments.pop();
                trailing_slash = i == last;
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn norm(path: &str) -> String {
        normalize(path, PathRules::default()).unwrap().into_owned()
    }

    #[test]
    fn every_spelling_of_a_path_becomes_one() {
        let cases = [
            ("/admin", "/admin"),
            ("/public/../admin", "/admin"),
            ("/public/%2e%2e/admin", "/admin"),
            ("/public/%2E%2E/admin", "/admin"),
            ("/public/.%2e/admin", "/admin"),
            ("//admin", "/admin"),
            ("/x//y///z", "/x/y/z"),
            ("/%61dmin", "/admin"),
            ("/./admin", "/admin"),
            ("/admin/./x", "/admin/x"),
            ("/a/b/../../admin", "/admin"),
            ("/..", "/"),
            ("/../../admin", "/admin"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/a%2fb", "/a%2Fb"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/a%7Eb%5fc", "/a~b_c"),
            ("/.well-known/x", "/.well-known/x"),
            ("/a/..b/c.", "/a/..b/c."),
            ("/", "/"),
        ];
        for (given, want) in cases {
            assert_eq!(norm(given), want, "from {given}");
        }
    }

    #[test]
    fn a_normal_path_is_not_copied() {
        for path in ["/", "/admin", "/a/b.c/..d/.e", "/a/b/"] {
            assert!(
                matches!(normalize(path, PathRules::default()), Ok(Cow::Borrowed(_))),
                "{path}"
            );
        }
    }

    #[test]
    fn encoded_slashes_follow_the_rule() {
        let with = |escaped_slashes| PathRules {
            merge_slashes: true,
            escaped_slashes,
        };
        let path = "/public%2F..%2Fadmin";
        assert_eq!(
            normalize(path, with(EscapedSlashes::Keep)).unwrap(),
            "/public%2F..%2Fadmin"
        );
        assert_eq!(
            normalize(path, with(EscapedSlashes::Reject)),
            Err(PathError::EscapedSlash)
        );
        assert_eq!(
            normalize(path, with(EscapedSlashes::Decode)).unwrap(),
            "/admin"
        );
        assert_eq!(
            normalize("/a%5Cb", with(EscapedSlashes::Decode)).unwrap(),
            "/a\\b"
        );
    }

    #[test]
    fn merging_slashes_can_be_turned_off_and_bad_escapes_are_refused() {
        let keep = PathRules {
            merge_slashes: false,
            ..PathRules::default()
        };
        assert_eq!(normalize("//a//b", keep).unwrap(), "//a//b");
        assert_eq!(normalize("//a/../b", keep).unwrap(), "//b");
        for bad in ["/%", "/%4", "/%zz", "/a%g1"] {
            assert_eq!(
                normalize(bad, PathRules::default()),
                Err(PathError::BadEscape),
                "{bad}"
            );
        }
    }
}
