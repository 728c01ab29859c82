//! `listeners.*.merge_slashes` and `listeners.*.escaped_slashes`: how a listener
//! normalises request paths before routing.

use crate::errors::Errors;
use crate::spec::EscapedSlashesSpec;

/// `escaped_slashes`: `keep` (the default), `reject` or `decode`.
pub(crate) fn escaped_slashes(
    errors: &mut Errors<'_>,
    at: &str,
    raw: Option<&str>,
) -> EscapedSlashesSpec {
    match raw {
        None | Some("keep") => EscapedSlashesSpec::Keep,
        Some("reject") => EscapedSlashesSpec::Reject,
        Some("decode") => EscapedSlashesSpec::Decode,
        Some(other) => {
            errors.push(
                at,
                format!(
                    "unknown value \"{}\" (expected keep, reject or decode)",
                    crate::wording::echo(other)
                ),
            );
            EscapedSlashesSpec::Keep
        }
    }
}
