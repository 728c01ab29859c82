//! Pieces of the Prometheus text format shared by the series written here.

use std::borrow::Cow;

/// A label value with `\`, `"` and line feeds escaped, as the text format asks.
pub(crate) fn escape(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .into()
}
