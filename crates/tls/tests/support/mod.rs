//! Shared by the tls crate's tests: certificates made by rcgen, pair files in a
//! temporary directory, a TLS echo server on 127.0.0.1 built on `ServerTls::accept`,
//! a tokio-rustls client that reports what it was served, a metrics recorder of the
//! test's own, and bounded waits.

// Each test file uses its own part of this module.
#![allow(dead_code, unused_imports)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

mod certs;
mod client;
mod recorder;
mod server;
mod wait;

pub use certs::*;
pub use client::*;
pub use recorder::*;
pub use server::*;
pub use wait::*;
