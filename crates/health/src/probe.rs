//! One active check against one backend, on a connection of its own.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::check::{HttpProbe, Probe};

/// Runs `probe` against `address` within `timeout`. `Ok` holds what passed
/// (`connected`, `status 200`); `Err` says what failed.
pub async fn probe(
    address: SocketAddr,
    probe: &Probe,
    timeout: Duration,
) -> Result<String, String> {
    match tokio::time::timeout(timeout, run(address, probe)).await {
        Ok(result) => result,
        Err(_) => Err(format!("timed out after {timeout:?}")),
    }
}

async fn run(address: SocketAddr, probe: &Probe) -> Result<String, String> {
    let stream = TcpStream::connect(address)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    match probe {
        Probe::Tcp => Ok("connected".into()),
        Probe::Http(http) => http_check(stream, address, http).await,
    }
}

async fn http_check(
    stream: TcpStream,
    address: SocketAddr,
    check: &HttpProbe,
) -> Result<String, String> {
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let connection = tokio::spawn(connection);
    let host = check.host.clone().unwrap_or_else(|| address.to_string());
    let request = Request::builder()
        .method(check.method.clone())
        .uri(check.path.as_str())
        .header(header::HOST, host)
        .header(header::USER_AGENT, "sluicegate-health-check")
        .header(header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("request: {e}"))?;
    let result = sender.send_request(request).await;
    connection.abort();
    let status = result
        .map_err(|e| format!("exchange: {e}"))?
        .status()
        .as_u16();
    if check.expects(status) {
        Ok(format!("status {status}"))
    } else {
        Err(format!("status {status}"))
    }
}
