//! The `sluicegate` binary: command line (`run`, `check`, `demo`), logging, signals and
//! wiring of the library crates. It owns file reading and process exit codes; proxy
//! logic belongs in the libraries, so this crate stays thin.

mod activation;
mod admin;
mod check;
mod cli;
mod demo;
mod demo_backend;
mod discovery;
mod fd_limit;
mod fd_passing;
mod logging;
mod notify;
mod reexec;
mod reload;
mod reload_log;
mod run;
mod state;
mod trigger;
mod upgrade;
mod watch;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: the request path allocates a few small
/// blocks per request (hyper's buffers, header maps), freed soon after.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.log_format);
    match cli.command {
        cli::Command::Check {
            config,
            against,
            print,
        } => check::check(&config, against.as_deref(), print),
        cli::Command::Run { config, upgrade } => run::main(&config, upgrade),
        cli::Command::Demo { port, admin_port } => demo::main(port, admin_port),
    }
}
