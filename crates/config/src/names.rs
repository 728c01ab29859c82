//! The names of listeners and clusters.

use crate::errors::Errors;

/// Pushes an error unless `name` is non-empty letters, digits, `-` and `_`.
pub(crate) fn check_name(errors: &mut Errors<'_>, at: &str, name: &str) {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        errors.push(
            at,
            format!("invalid name \"{name}\" (use letters, digits, '-' and '_')"),
        );
    }
}
