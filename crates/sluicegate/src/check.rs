//! `sluicegate check -c FILE [--against OLD | --print]`.

use std::path::Path;
use std::process::ExitCode;

use sluicegate_config::{Config, ConfigErrors};

/// Why a config file could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Read(std::io::Error),
    /// The file was read but holds no text (not UTF-8, or NUL bytes): a wrong file,
    /// which is a config error (exit 1), not an unreadable one.
    NotText(String),
    /// The file was read but is not a valid config.
    Invalid(ConfigErrors),
}

/// Reads, parses and validates a config file, looking its backend host names up
/// (blocking); relative file paths in it are made relative to its directory.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let bytes = std::fs::read(path).map_err(LoadError::Read)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        LoadError::NotText(format!(
            "invalid UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        ))
    })?;
    if let Some(at) = text.find('\0') {
        return Err(LoadError::NotText(format!("a NUL byte at byte {at}")));
    }
    let mut config = sluicegate_config::parse(&text).map_err(LoadError::Invalid)?;
    config.rebase(&config_dir(path));
    Ok(config)
}

/// The directory relative file paths in the config at `path` are relative to.
pub fn config_dir(path: &Path) -> std::path::PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
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
        LoadError::NotText(why) => {
            eprintln!("{}: not a YAML text file ({why})", path.display());
            ExitCode::from(1)
        }
    }
}

/// Runs the check; exit 0 valid, 1 invalid, 2 unreadable. With `against`, also prints
/// the changes from that config (which must itself be valid) to this one; with
/// `print`, prints the effective config instead of the summary.
pub fn check(path: &Path, against: Option<&Path>, print: bool) -> ExitCode {
    let config = match load(path) {
        Ok(config) => config,
        Err(error) => return report(path, &error),
    };
    if let Err(e) = sluicegate_runtime::compile(&config, None) {
        eprintln!("{}: {e}", path.display());
        return ExitCode::from(1);
    }
    if print {
        return print_effective(path, &config);
    }
    println!("{}: ok: {}", path.display(), summary(&config));
    for line in config.resolutions() {
        println!("  {line}");
    }
    match against {
        Some(old) => print_changes(old, &config),
        None => ExitCode::SUCCESS,
    }
}

/// Prints `config` as YAML with every default filled in, after a comment line with the
/// summary (so the output is itself a config file).
fn print_effective(path: &Path, config: &Config) -> ExitCode {
    match sluicegate_config::to_yaml(config) {
        Ok(yaml) => {
            println!(
                "# {}: ok: {}; every default filled in",
                path.display(),
                summary(config)
            );
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            ExitCode::FAILURE
        }
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
