//! Config errors, each named by its YAML path.

use std::fmt;

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// YAML path of the offending value, e.g. `clusters.api.backends[1].address`.
    /// Empty for errors about the document as a whole (syntax errors).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line and column of the value, where known.
    pub location: Option<(usize, usize)>,
    /// The error may clear without a change to the text: a host name that did not
    /// resolve (the name may be published, or DNS come back, later). A caller may try
    /// the same text again; every other error is a property of the text.
    pub transient: bool,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some((line, column)) = self.location {
            write!(f, " (line {line}, column {column})")?;
        }
        Ok(())
    }
}

/// Every error found in one config file, in document order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors as display lines, one per error.
    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }

    /// Whether every error may clear without a change to the text (see
    /// [`ConfigError::transient`]), so that trying the same text again makes sense.
    pub fn transient(&self) -> bool {
        !self.0.is_empty() && self.0.iter().all(|e| e.transient)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            f,
            "{count} config error{}",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}
