//! Backends that answer with their name: [`Backend::named`], [`Backend::named_on`],
//! [`Backend::named_localhost`], [`Backend::slow`] and [`Backend::short_keep_alive`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, StatusCode};
use hyper::body::Incoming;

use crate::Backend;
use crate::backend::{Reply, bind_on, spawn_http, spawn_http_on, text, tokio_listener};
use crate::ports::localhost_listeners;

impl Backend {
    /// Answers `200` with body `name` for every path, plus:
    /// - `/slow?ms=N`: waits N milliseconds, then answers `name`;
    /// - `/status/N`: answers status N (body `name`).
    pub fn named(name: &str) -> Backend {
        let name: Arc<str> = Arc::from(name);
        spawn_http(None, move |request| {
            answer(name.clone(), Duration::ZERO, request)
        })
    }

    /// Like [`Backend::named`], listening on `addr`: with the address of a backend
    /// stopped by [`Backend::kill`], it plays that backend restarted. Waits (bounded by
    /// [`crate::WAIT`], then panics) while the address is still in use.
    pub async fn named_on(name: &str, addr: SocketAddr) -> Backend {
        let name: Arc<str> = Arc::from(name);
        spawn_http_on(bind_on(addr).await, None, move |request| {
            answer(name.clone(), Duration::ZERO, request)
        })
    }

    /// Like [`Backend::named`], for a backend addressed as `localhost:PORT`: one
    /// backend on `127.0.0.1` and, where the host has IPv6, one on `[::1]` with the
    /// same port, so every address `localhost` may resolve to answers `name`. The port
    /// is that of any of them. Must be called inside a tokio runtime.
    pub fn named_localhost(name: &str) -> Vec<Backend> {
        let name: Arc<str> = Arc::from(name);
        localhost_listeners()
            .into_iter()
            .map(|listener| {
                let name = name.clone();
                spawn_http_on(tokio_listener(listener), None, move |request| {
                    answer(name.clone(), Duration::ZERO, request)
                })
            })
            .collect()
    }

    /// Like [`Backend::named`] (name `"slow"`), but every answer waits `delay` first.
    pub fn slow(delay: Duration) -> Backend {
        let name: Arc<str> = Arc::from("slow");
        spawn_http(None, move |request| answer(name.clone(), delay, request))
    }

    /// Like [`Backend::named`], but closes a keep-alive connection that stays idle for
    /// longer than `idle`, as a backend with a short keep-alive timeout does.
    pub fn short_keep_alive(name: &str, idle: Duration) -> Backend {
        let name: Arc<str> = Arc::from(name);
        spawn_http(Some(idle), move |request| {
            answer(name.clone(), Duration::ZERO, request)
        })
    }
}

async fn answer(name: Arc<str>, delay: Duration, request: Request<Incoming>) -> Reply {
    let uri = request.uri();
    let wait = match uri.path() {
        "/slow" => delay + Duration::from_millis(query_number(uri.query(), "ms").unwrap_or(0)),
        _ => delay,
    };
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let status = uri
        .path()
        .strip_prefix("/status/")
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    text(status, name.to_string())
}

/// The value of `key=<number>` in a query string.
pub(crate) fn query_number(query: Option<&str>, key: &str) -> Option<u64> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}
