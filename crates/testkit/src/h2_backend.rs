//! [`Backend::h2_echo`]: the echo backend over cleartext HTTP/2 (prior knowledge),
//! with the stream limit it announces (`SETTINGS_MAX_CONCURRENT_STREAMS`) and a delay
//! before each answer, so that a test can fill its connections.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::Notify;

use crate::Backend;
use crate::backend::{bind, spawn_tcp_on};
use crate::echo::{ECHO_HOP_HEADERS, answer};

impl Backend {
    /// Answers like [`Backend::echo`] (without its HTTP/1 hop-by-hop fields, which
    /// HTTP/2 forbids) over HTTP/2 with prior knowledge, each answer after `delay`,
    /// announcing `max_streams` concurrent streams (hyper's default when `None`).
    /// [`Backend::accepts`] counts its connections.
    pub fn h2_echo(max_streams: Option<u32>, delay: Duration) -> Backend {
        spawn_tcp_on(bind(), move |stream, counters| async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
                counters.request(format!("{} {target}", request.method()));
                async move {
                    tokio::time::sleep(delay).await;
                    let mut reply = answer(request);
                    for (name, _) in ECHO_HOP_HEADERS {
                        reply.headers_mut().remove(name);
                    }
                    Ok::<_, Infallible>(reply)
                }
            });
            let mut builder = http2::Builder::new(TokioExecutor::new());
            builder.timer(TokioTimer::new());
            if let Some(max) = max_streams {
                builder.max_concurrent_streams(max);
            }
            let served = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(error) = served.await {
                tracing::debug!("fake HTTP/2 backend connection ended: {error}");
            }
        })
    }
}

impl Backend {
    /// Like [`Backend::h2_echo`] (no delay, hyper's stream limit), but each connection
    /// is shut down gracefully (GOAWAY, open streams finish) once it has taken `after`
    /// requests: the way servers recycle their connections.
    pub fn h2_goaway(after: usize) -> Backend {
        spawn_tcp_on(bind(), move |stream, counters| async move {
            let taken = Arc::new(AtomicUsize::new(0));
            let enough = Arc::new(Notify::new());
            let (seen, full) = (taken.clone(), enough.clone());
            let service = service_fn(move |request: Request<Incoming>| {
                let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
                counters.request(format!("{} {target}", request.method()));
                if seen.fetch_add(1, Ordering::SeqCst) + 1 == after {
                    full.notify_one();
                }
                let mut reply = answer(request);
                for (name, _) in ECHO_HOP_HEADERS {
                    reply.headers_mut().remove(name);
                }
                async move { Ok::<_, Infallible>(reply) }
            });
            let conn = http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                () = enough.notified() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(error) = served {
                tracing::debug!("fake HTTP/2 backend connection ended: {error}");
            }
        })
    }
}
