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

/// Prints a load error for `path` to stderr and returns the exit status it calls for:
/// 2 unreadable, 1 invalid.
pub fn report(path: &Path, error: &LoadError) -> ExitCode {
    match error {
        LoadError::Read(e) => {
            eprintln!("{}: cannot read: {e}", path.display());
            ExitCode::from(2)
        }
        LoadError::Invalid(errors) => {
            eprintln!("{}: {errors}", path.display());
            ExitCode::from(1)
        }
    }
}

/// Runs the check; exit 0 valid, 1 invalid, 2 unreadable. With `against`, also prints
/// the changes from that config (which must itself be valid) to this one.
pub fn check(path: &Path, against: Option<&Path>) -> ExitCode {
    match load(path) {
        Ok(config) => match sluicegate_runtime::compile(&config, None) {
            Ok(_) => {
                println!("{}: ok: {}", path.display(), summary(&config));
                match against {
                    Some(old) => print_changes(old, &config),
                    None => ExitCode::SUCCESS,
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                ExitCode::from(1)
            }
        },
        Err(error) => report(path, &error),
    }
}

/// Prints the changes from the config at `old` to `new`, one per line.
fn print_changes(old: &Path, new: &Config) -> ExitCode {
    match load(old) {
        Ok(old_config) => {
            let changes = sluicegate_config::diff(&old_config, new);
            if changes.is_empty() {
                println!("no changes from {}", old.display());
            } else {
                println!("changes from {}:", old.display());
                for change in changes {
                    println!("  {change}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(error) => report(old, &error),
    }
}
