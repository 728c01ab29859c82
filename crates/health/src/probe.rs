//! One active check against one backend, on a connection of its own: TCP, then the
//! backend's [`Transport`] (TLS when its cluster has `tls:`, so a TCP check over TLS
//! passes only once the handshake is done, as HAProxy's `check-ssl`), then for an HTTP
//! check one request in the cluster's protocol: HTTP/1.1 with `Connection: close`, or
//! HTTP/2 ([`HttpProbe::h2`]: prior knowledge in cleartext, over TLS the ALPN the
//! transport agreed) with the authority and scheme in the request's pseudo-headers.
//! The connection is closed once the status is known; the body is not read.
//!
//! Everything, connect and handshake included, runs within the check's timeout. A
//! failure says where it happened: `connect: …`, `TLS: …` (the handshake's own
//! reason), `handshake: …` (HTTP), `exchange: …`, or the status that did not pass.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::check::{HttpProbe, Probe};
use crate::transport::{CheckIo, Transport};

/// Runs `probe` against `address` over `transport` within `timeout`. `Ok` holds what
/// passed (`connected`, `status 200`); `Err` says what failed.
pub async fn probe(
    address: SocketAddr,
    transport: &Transport,
    probe: &Probe,
    timeout: Duration,
) -> Result<String, String> {
    match tokio::time::timeout(timeout, run(address, transport, probe)).await {
        Ok(result) => result,
        Err(_) => Err(format!("timed out after {timeout:?}")),
    }
}

async fn run(address: SocketAddr, transport: &Transport, probe: &Probe) -> Result<String, String> {
    let tcp = TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let stream = transport.open(tcp).await?;
    match probe {
        Probe::Tcp => Ok(transport.connected().into()),
        Probe::Http(http) => {
            let request = request(http, address, transport.scheme())?;
            let status = if http.h2 {
                exchange_h2(stream, request).await?
            } else {
                exchange_h1(stream, request).await?
            };
            if http.expects(status) {
                Ok(format!("status {status}"))
            } else {
                Err(format!("status {status}"))
            }
        }
    }
}

/// The check's request: for HTTP/1.1 in origin form with `Host` and
/// `Connection: close`; for HTTP/2 in absolute form (hyper sends its scheme and
/// authority as `:scheme` and `:authority`), without either field.
fn request(
    check: &HttpProbe,
    address: SocketAddr,
    scheme: &str,
) -> Result<Request<Empty<Bytes>>, String> {
    let host = check.host.clone().unwrap_or_else(|| address.to_string());
    let builder = Request::builder()
        .method(check.method.clone())
        .header(header::USER_AGENT, "sluicegate-health-check");
    let builder = if check.h2 {
        builder.uri(format!("{scheme}://{host}{}", check.path))
    } else {
        builder
            .uri(check.path.as_str())
            .header(header::HOST, host)
            .header(header::CONNECTION, "close")
    };
    builder
        .body(Empty::new())
        .map_err(|e| format!("request: {e}"))
}

/// Sends `request` over HTTP/1.1; the response's status.
async fn exchange_h1(stream: CheckIo, request: Request<Empty<Bytes>>) -> Result<u16, String> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let connection = tokio::spawn(connection);
    let result = sender.send_request(request).await;
    connection.abort();
    Ok(result
        .map_err(|e| format!("exchange: {e}"))?
        .status()
        .as_u16())
}

/// Sends `request` as the one stream of an HTTP/2 connection; the response's status.
async fn exchange_h2(stream: CheckIo, request: Request<Empty<Bytes>>) -> Result<u16, String> {
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
    let connection = tokio::spawn(connection);
    let result = sender.send_request(request).await;
    connection.abort();
    Ok(result
        .map_err(|e| format!("exchange: {e}"))?
        .status()
        .as_u16())
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
