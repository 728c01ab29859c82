//! `sluicegate check -c FILE`.

use std::path::Path;
use std::process::ExitCode;

use sluicegate_config::{Config, ConfigErrors};

/// Why a config file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Read(std::io::Error),
    /// The file was read but is not a valid config.
    Invalid(ConfigErrors),
}

/// Reads, parses, validates and test-compiles a config file.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(LoadError::Read)?;
    let config = sluicegate_config::parse(&text).map_err(LoadError::Invalid)?;
    Ok(config)
}

/// One line: listeners, clusters, backends.
pub fn summary(config: &Config) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}, {}",
        plural(config.listeners.len(), "listener"),
        plural(config.clusters.len(), "cluster"),
        plural(config.backend_count(), "backend"),
    )
}

/// Prints a load error for `path` to stderr.
pub fn report(path: &Path, error: &LoadError) {
    match error {
        LoadError::Read(e) => eprintln!("{}: cannot read: {e}", path.display()),
        LoadError::Invalid(errors) => {
            eprintln!("{}: {errors}", path.display());
        }
    }
}

/// Runs the check; exit 0 valid, 1 invalid, 2 unreadable.
pub fn check(path: &Path) -> ExitCode {
    match load(path) {
        Ok(config) => match sluicegate_runtime::compile(&config, None) {
            Ok(_) => {
                println!("{}: ok: {}", path.display(), summary(&config));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                ExitCode::from(1)
            }
        },
        Err(error) => {
            report(path, &error);
            match error {
                LoadError::Read(_) => ExitCode::from(2),
                LoadError::Invalid(_) => ExitCode::from(1),
            }
        }
    }
}
