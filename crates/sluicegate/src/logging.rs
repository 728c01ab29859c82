//! Log setup: `RUST_LOG` when set, else `info` (rustls at `error`: it warns of
//! every alert a client provokes, such as a refused renegotiation, so any client could
//! fill the log; sluicegate logs failed handshakes itself); text or JSON lines on stderr. Text is
//! coloured only when stderr is a terminal and `NO_COLOR` is unset or empty
//! (no-color.org), so a log file or a pipe never holds escape codes.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The filter without `RUST_LOG`.
const DEFAULT_FILTER: &str = "info,rustls=error";

/// Installs the global subscriber, writing to stderr.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().with_current_span(false).try_init(),
        LogFormat::Text => builder
            .with_ansi(colour(std::io::stderr().is_terminal()))
            .try_init(),
    };
}

/// Whether text logs are coloured: on a terminal, unless `NO_COLOR` is set.
fn colour(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
