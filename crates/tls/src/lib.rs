//! sluicegate's TLS: rustls server configs for terminating listeners, built from PEM
//! files when a config is compiled ([`ServerTls`]), with an SNI certificate resolver
//! whose pairs are swapped while connections are open ([`ServerTls::refresh`],
//! [`CertWatch`]), the handshake under a timeout ([`ServerTls::accept`]), and client
//! configs for TLS to upstreams ([`ClientTls`]), and the server name of a ClientHello
//! read without terminating (passthrough by SNI, [`HelloReader`]).
//!
//! It is the only crate that names rustls: the others hold an `Arc<ServerTls>` or an
//! `Arc<ClientTls>` and a stream. Of the workspace it depends on metrics only (core is
//! allowed) and must not see the config (the runtime maps the `tls:` specs into
//! [`ServerParams`] and [`ClientParams`]) nor hyper: it hands back a byte stream and
//! what ALPN chose (both checked by `.ci/crate-rules.sh`). The crypto provider is ring.
//! Reading certificate files is blocking I/O, done at compile time or on the watcher's
//! own thread (see [`watch`] for its lifecycle), never on the handshake path, which
//! reads the loaded pairs lock-free.

mod cert_facts;
mod cert_set;
mod client;
mod client_hello;
mod error;
mod expiry;
mod handshake;
mod loaded_pair;
mod no_verify;
mod params;
mod pem_files;
mod provider;
mod refresh;
mod resolver;
mod roots;
mod server;
mod sni_table;
pub mod watch;

pub use client::{ClientStream, ClientTls};
pub use client_hello::{HelloRead, HelloReader, MAX_CLIENT_HELLO};
pub use error::{Field, HandshakeError, TlsError};
pub use handshake::{Alpn, Handshake, ServerStream};
pub use params::{ClientParams, MinVersion, PairSource, ServerParams};
pub use server::{CertInfo, ServerTls};
pub use watch::CertWatch;
