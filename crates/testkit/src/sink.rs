//! [`Backend::sink`]: digests uploads as they stream in and streams generated
//! downloads, so large transfers are checked without holding them in memory.

use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::Backend;
use std::sync::Arc;

use crate::backend::{Counters, Reply, bind, spawn_http_counted, text};
use crate::named::query_number;
use crate::pattern::{Digest, PatternBody};

impl Backend {
    /// - `GET /download?bytes=N`: answers `200` with N bytes of the pattern
    ///   ([`crate::pattern`]), generated in 64 KiB chunks, with `Content-Length`.
    /// - any other request: reads the whole request body frame by frame, hashing it,
    ///   and answers `200` with `sha256=<hex> bytes=<n>` ([`crate::pattern::Digest`]).
    ///   A body that fails to arrive whole is answered `400` with the error and
    ///   counted ([`Backend::uploads_cut`]).
    ///
    /// [`Backend::generated`] tells how much of the downloads it has produced.
    pub fn sink() -> Backend {
        spawn_http_counted(bind(), None, |request, counters| async move {
            answer(request, counters).await
        })
    }
}

async fn answer(request: Request<Incoming>, counters: Arc<Counters>) -> Reply {
    if request.method() == Method::GET && request.uri().path() == "/download" {
        let len = query_number(request.uri().query(), "bytes").unwrap_or(0);
        let body = PatternBody::sized(len)
            .counted_in(counters)
            .map_err(|never| match never {});
        return Reply::new(body.boxed());
    }
    let mut body = request.into_body();
    let mut digest = Digest::default();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    digest.update(data);
                }
            }
            Err(error) => {
                counters.cut();
                return text(StatusCode::BAD_REQUEST, format!("body failed: {error}"));
            }
        }
    }
    text(StatusCode::OK, digest.finish())
}
