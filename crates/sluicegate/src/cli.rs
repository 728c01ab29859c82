//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// `--version`: the version, the git commit it was built from and the compiler.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SLUICEGATE_COMMIT"),
    ", ",
    env!("SLUICEGATE_RUSTC"),
    ")"
);

/// sluicegate: a load-balancing reverse proxy configured by one YAML file.
#[derive(Debug, Parser)]
#[command(name = "sluicegate", version = VERSION, about)]
pub struct Cli {
    /// Log lines as `text` (coloured only on a terminal, never with NO_COLOR set) or
    /// `json` (one object a line, for Loki, Vector or Elasticsearch).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the proxy with a config file; SIGTERM or Ctrl-C drains and exits.
    Run {
        /// The YAML config file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Take over from the sluicegate running on the config's
        /// `admin.upgrade_socket`, without refusing a connection: take its listening
        /// sockets, serve on them, then let it drain and exit. If this process fails
        /// to start, the running one goes on serving.
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate a config file without binding anything.
    /// Exit 0 valid, 1 invalid (every error listed), 2 unreadable.
    Check {
        /// The YAML config file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Also print what would change from this (running) config to FILE, as a
        /// reload would log it. Nothing is applied.
        #[arg(long, value_name = "OLD", conflicts_with = "print")]
        against: Option<PathBuf>,
        /// Print the effective config instead of the summary: YAML with every default
        /// filled in, which sluicegate reads back as the same config (backends given
        /// by host name as the addresses they resolved to).
        #[arg(long)]
        print: bool,
    },
    /// Start three demo backends and the proxy in front of them, with no setup.
    Demo {
        /// Port of the proxy on 127.0.0.1 (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Port of the admin API on 127.0.0.1 (0 picks a free one); default 9901, or a
        /// free one with `--port 0`.
        #[arg(long, value_name = "N")]
        admin_port: Option<u16>,
    },
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}
