//! The error collector validation pushes to: each error is placed in the source
//! text by its YAML path as it is pushed.

use std::time::Duration;

use crate::duration::parse_duration;
use crate::error::{ConfigError, ConfigErrors};
use crate::locate;

/// Collects errors and finds their place in the source text.
pub(crate) struct Errors<'a> {
    text: &'a str,
    list: Vec<ConfigError>,
}

impl<'a> Errors<'a> {
    /// No errors yet; `text` is the source, used only to locate them.
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            list: Vec::new(),
        }
    }

    /// `Ok` if nothing was collected, else every error, sorted by where it is in the
    /// text (errors without a place last).
    pub(crate) fn finish(self) -> Result<(), ConfigErrors> {
        if self.list.is_empty() {
            return Ok(());
        }
        let mut list = self.list;
        list.sort_by_key(|e| e.location.unwrap_or((usize::MAX, usize::MAX)));
        Err(ConfigErrors(list))
    }

    /// How many errors were collected so far.
    pub(crate) fn count(&self) -> usize {
        self.list.len()
    }

    /// Pushes an error about the value at YAML `path`.
    pub(crate) fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.add(path.into(), message.into(), false);
    }

    /// Pushes an error that may clear without a change to the text (a failed lookup).
    pub(crate) fn push_transient(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.add(path.into(), message.into(), true);
    }

    fn add(&mut self, path: String, message: String, transient: bool) {
        let location = locate::locate(self.text, &path);
        self.list.push(ConfigError {
            path,
            message,
            location,
            transient,
        });
    }

    /// Parses the duration at `path`: `default` when it is absent, or (after pushing
    /// an error) when it is zero or does not parse.
    pub(crate) fn duration(
        &mut self,
        path: String,
        raw: Option<&str>,
        default: Duration,
    ) -> Duration {
        match raw.map(parse_duration) {
            None => default,
            Some(Ok(d)) if d.is_zero() => {
                self.push(path, "must be greater than zero");
                default
            }
            Some(Ok(d)) => d,
            Some(Err(message)) => {
                self.push(path, message);
                default
            }
        }
    }
}
