//! Opening one connection to a backend: TCP within the connect timeout, for a layer-4
//! session of a cluster with `send_proxy_protocol` the PROXY header, then, for a
//! cluster with `tls:`, the TLS handshake (the certificate verified against the
//! backend's server name, ALPN offered for the cluster's protocol). The handshake is
//! bounded by the same connect timeout: to the layer above both are "connecting".

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use sluicegate_core::ProxyVersion;
use sluicegate_runtime::{Backend, Cluster};
use sluicegate_tls::{ClientStream, ClientTls};
use sluicegate_transport::proxy_header;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::send_error::SendError;

/// How to reach one backend.
#[derive(Clone, Debug)]
pub struct Connector {
    /// Its address.
    pub address: SocketAddr,
    /// Longest time to connect (TCP and TLS together).
    pub connect_timeout: Duration,
    /// TLS: the client config and the server name to verify; `None`: cleartext.
    pub tls: Option<(Arc<ClientTls>, String)>,
    /// The PROXY protocol header [`Connector::connect_for`] sends first; `None`: none.
    pub proxy: Option<ProxyVersion>,
}

impl Connector {
    /// How `backend` of `cluster` is reached: its address, the cluster's connect
    /// timeout, PROXY protocol and TLS, verified against the configured name, else
    /// the backend's host name, else its IP.
    pub fn for_backend(backend: &Backend, cluster: &Cluster) -> Self {
        let address = backend.address();
        let tls = cluster.tls.as_ref().map(|tls| {
            let name = tls.server_name(backend.name.as_deref(), address.ip());
            (tls.client.clone(), name)
        });
        Connector {
            address,
            connect_timeout: cluster.connect_timeout,
            tls,
            proxy: cluster.send_proxy_protocol,
        }
    }

    /// Whether a pool built with `self` can serve a cluster that now asks for `other`.
    pub fn same_as(&self, other: &Connector) -> bool {
        let tls = match (&self.tls, &other.tls) {
            (None, None) => true,
            (Some((a, x)), Some((b, y))) => a.params() == b.params() && x == y,
            _ => false,
        };
        self.address == other.address
            && self.connect_timeout == other.connect_timeout
            && self.proxy == other.proxy
            && tls
    }

    /// The scheme requests over it carry (`:scheme` for HTTP/2).
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Opens a connection; with TLS, `h2` says whether the backend must agree to
    /// HTTP/2 by ALPN. No PROXY header is sent: a pooled connection serves many
    /// clients.
    pub async fn connect(&self, h2: bool) -> Result<UpstreamStream, SendError> {
        self.open(h2, None).await
    }

    /// Opens a connection for one client session (layer 4): first the PROXY header
    /// naming `client` (its address, and the address it connected to), when the
    /// cluster sends one, then TLS if the cluster has it.
    pub async fn connect_for(
        &self,
        client: (SocketAddr, SocketAddr),
    ) -> Result<UpstreamStream, SendError> {
        self.open(false, Some(client)).await
    }

    async fn open(
        &self,
        h2: bool,
        client: Option<(SocketAddr, SocketAddr)>,
    ) -> Result<UpstreamStream, SendError> {
        let opened = async {
            let mut tcp = TcpStream::connect(self.address)
                .await
                .map_err(SendError::Connect)?;
            let _ = tcp.set_nodelay(true);
            if let (Some(version), Some((source, destination))) = (self.proxy, client) {
                let header =
                    proxy_header(version, source, destination).map_err(SendError::Connect)?;
                tcp.write_all(&header).await.map_err(SendError::Connect)?;
            }
            let Some((client, name)) = &self.tls else {
                return Ok(UpstreamStream::Plain(tcp));
            };
            let tls = client.connect(name, tcp).await.map_err(SendError::Tls)?;
            let alpn = tls.get_ref().1.alpn_protocol();
            if h2 && alpn != Some(b"h2") {
                let message = "the backend did not agree to HTTP/2 (ALPN h2)";
                return Err(SendError::Tls(io::Error::other(message)));
            }
            Ok(UpstreamStream::Tls(Box::new(tls)))
        };
        tokio::time::timeout(self.connect_timeout, opened)
            .await
            .map_err(|_| SendError::ConnectTimeout)?
    }
}

/// A connection to a backend, cleartext or TLS.
#[derive(Debug)]
pub enum UpstreamStream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP (boxed: the TLS state is large).
    Tls(Box<ClientStream<TcpStream>>),
}

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            UpstreamStream::Plain(s) => s.is_write_vectored(),
            UpstreamStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_flush(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
