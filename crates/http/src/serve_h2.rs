//! Serving HTTP/2 on one accepted connection: hyper's HTTP/2 server with the limits
//! of `h2_limits.rs`, the service of `serve.rs` ([`respond`]), and the three ways the
//! connection ends besides the client's: the listener's drain, the keep-alive close
//! (GOAWAY once no request came for `keepalive_timeout`, its streams then given
//! `send_timeout` to end), and a response that waited `send_timeout` for the
//! client's window (`window_wait.rs`).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::FutureExt;
use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sluicegate_transport::Activity;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::body::Watched;
use crate::client_body::FromClient;
use crate::conn::ClientConn;
use crate::head_clock::ClientTimeouts;
use crate::serve::{Source, drive, respond};

/// HTTP/2 on `stream`; a connection without a new request for the keep-alive
/// timeout is ended as a drain ends it (GOAWAY, open streams finish), its streams
/// given the send timeout to end before it is dropped (what is left of them waits
/// on the client: a body's tail h2 still holds). `None` when `closing` cut it, or a
/// response waited longer than the send timeout for the client's window
/// (`window_wait.rs`: counted as a send timeout, and dropped). Longer than most: the
/// three ends share the connection's locals.
pub(crate) async fn http2<S>(
    stream: S,
    conn: Arc<ClientConn>,
    source: Source,
    timeouts: ClientTimeouts,
    draining: impl Future<Output = ()>,
    closing: impl Future<Output = ()>,
) -> Option<hyper::Result<()>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let requests = conn.requests.clone();
    let went_idle = AtomicBool::new(false);
    let draining = async {
        tokio::select! {
            () = draining => {}
            () = idle(requests, timeouts.keepalive) => went_idle.store(true, Ordering::Relaxed),
        }
    };
    // Polled only once `draining` resolved.
    let closing = async {
        if went_idle.load(Ordering::Relaxed) {
            tokio::select! {
                () = closing => {}
                () = tokio::time::sleep(timeouts.send) => {}
            }
        } else {
            closing.await;
        }
    };
    let (waits, stalled, _watcher) = crate::window_wait::watch(timeouts.send);
    let (client, live) = (conn.clone(), source.clone());
    let service = service_fn(move |r: Request<Incoming>| {
        let request = r.map(FromClient::hyper);
        // Not waiting on the client until the body is handed to hyper.
        let watched = waits
            .watch()
            .map_or(Watched::Nothing, |w| Watched::Window(Box::new(w)));
        respond(conn.clone(), source.clone(), request, watched).map(Ok::<_, Infallible>)
    });
    let served = crate::h2_limits::builder().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = drive(served, draining, closing) => result,
        () = stalled => {
            send_timed_out(&client, &live, timeouts.send);
            None
        }
    }
}

/// Counts and logs an HTTP/2 connection ended because a response of it waited
/// `timeout` for the client's window.
fn send_timed_out(conn: &ClientConn, source: &Source, timeout: Duration) {
    let live = source.current();
    if let Some(listener) = live.snapshot.listener(&conn.listener) {
        listener.series.send_timeouts().increment(1);
    }
    tracing::debug!(
        peer = %conn.addr,
        "an HTTP/2 response waited {timeout:?} for the client's window (send_timeout): connection closed"
    );
}

/// Resolves once `requests` saw no new request for `limit` (never without a clock).
async fn idle(requests: Option<Arc<Activity>>, limit: Duration) {
    match requests {
        Some(requests) => requests.idle_for(limit).await,
        None => std::future::pending().await,
    }
}
