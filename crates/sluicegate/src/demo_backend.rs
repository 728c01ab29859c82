//! The demo's in-process backends: each answers with its own name, and `/slow?ms=N`
//! and `/status/N` let a newcomer try timeouts and error statuses.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Longest delay `/slow` accepts, so a typo cannot hold a connection for hours.
const MAX_SLOW: Duration = Duration::from_secs(60);

/// Binds a demo backend on 127.0.0.1 (any port) and serves it in the background.
pub async fn spawn(name: &'static str) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let service = service_fn(move |req| answer(name, req));
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    Ok(addr)
}

async fn answer(name: &str, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    if let Some(code) = path.strip_prefix("/status/") {
        let status = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        return Ok(text(
            status,
            format!("{name}: status {}\n", status.as_u16()),
        ));
    }
    if path == "/slow" {
        let ms = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("ms=")))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1000);
        let delay = Duration::from_millis(ms).min(MAX_SLOW);
        tokio::time::sleep(delay).await;
        return Ok(text(
            StatusCode::OK,
            format!("{name}: slept {}ms\n", delay.as_millis()),
        ));
    }
    Ok(text(StatusCode::OK, format!("hello from {name}\n")))
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}
