//! What a check speaks over once its TCP connection is open: the bytes as they are
//! ([`Transport::Plain`]), or TLS ([`Transport::Tls`]) through a [`TlsClient`] the
//! runtime supplies (it builds one per backend from the cluster's `tls:`: the client
//! config and the backend's server name). This crate never names rustls: it sees a
//! handshake that turns a [`TcpStream`] into a [`CheckIo`] or says why it failed.
//!
//! A transport is part of a checker's identity: two are equal when they are both
//! plain, or both TLS with equal [`TlsClient::identity`], and the supervisor restarts
//! a checker whose transport changed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A byte stream a check can speak HTTP over.
pub trait CheckStream: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> CheckStream for T {}

/// A check's connection, whatever it is layered on.
pub type CheckIo = Box<dyn CheckStream>;

/// A handshake under way: the stream to speak over, or why it failed.
pub type Handshaking<'a> = Pin<Box<dyn Future<Output = Result<CheckIo, String>> + Send + 'a>>;

/// The client side of TLS to one backend.
pub trait TlsClient: Send + Sync + fmt::Debug {
    /// Runs the handshake over `tcp`. `Err` says why it failed, without the backend's
    /// address (the log line names it): `certificate verify failed: UnknownIssuer`.
    fn handshake(&self, tcp: TcpStream) -> Handshaking<'_>;

    /// What it is made of (client parameters, server name, ALPN required): two
    /// clients with the same identity are interchangeable, so a reload that keeps it
    /// keeps the checker.
    fn identity(&self) -> String;
}

/// How a check's connection is layered over TCP.
#[derive(Clone, Debug, Default)]
pub enum Transport {
    /// Cleartext.
    #[default]
    Plain,
    /// TLS with this client.
    Tls(Arc<dyn TlsClient>),
}

impl PartialEq for Transport {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Transport::Plain, Transport::Plain) => true,
            (Transport::Tls(a), Transport::Tls(b)) => a.identity() == b.identity(),
            _ => false,
        }
    }
}

impl Eq for Transport {}

impl Transport {
    /// Layers the transport over `tcp`; a failed handshake is `TLS: <why>`.
    pub(crate) async fn open(&self, tcp: TcpStream) -> Result<CheckIo, String> {
        match self {
            Transport::Plain => Ok(Box::new(tcp)),
            Transport::Tls(client) => client.handshake(tcp).await.map_err(|e| format!("TLS: {e}")),
        }
    }

    /// The URI scheme of requests over it (HTTP/2's `:scheme`).
    pub(crate) fn scheme(&self) -> &'static str {
        match self {
            Transport::Plain => "http",
            Transport::Tls(_) => "https",
        }
    }

    /// What a passing TCP check reports.
    pub(crate) fn connected(&self) -> &'static str {
        match self {
            Transport::Plain => "connected",
            Transport::Tls(_) => "connected, TLS handshake done",
        }
    }
}
