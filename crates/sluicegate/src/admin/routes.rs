//! Admin request routing: one function per endpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use serde::Serialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::admin::exporter::Exporter;
use crate::admin::page;
use crate::admin::status::Status;
use crate::state::State;
use crate::trigger::Trigger;
use sluicegate_runtime::ReloadOutcome;

/// Longest a `POST /reload` waits for the reload task.
const RELOAD_WAIT: Duration = Duration::from_secs(60);

type Reply = Response<Full<Bytes>>;

/// What every endpoint needs.
pub(crate) struct Routes {
    pub(crate) state: Arc<State>,
    /// The Prometheus exporter; `None` with `admin.metrics: false`.
    pub(crate) exporter: Option<Exporter>,
    pub(crate) triggers: mpsc::Sender<Trigger>,
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

fn text(status: StatusCode, body: impl Into<String>) -> Reply {
    reply(status, "text/plain; charset=utf-8", body.into())
}

fn json_reply(status: StatusCode, value: &impl Serialize) -> Reply {
    match serde_json::to_vec_pretty(value) {
        Ok(mut body) => {
            body.push(b'\n');
            reply(status, "application/json", body)
        }
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode: {e}\n"),
        ),
    }
}

fn not_allowed(allow: &'static str) -> Reply {
    let mut response = text(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("405 Method Not Allowed: use {allow}\n"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

/// A browser sends `Origin` with every cross-site POST; a page on another site must
/// not be able to reload or drain through a local browser (CSRF). Tools (curl) send
/// no `Origin`; the status page's own forms send this server's.
fn cross_site<B>(request: &Request<B>) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return false;
    };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => origin != format!("http://{host}"),
        _ => true,
    }
}

/// Decodes `%XX` escapes (`%5B::1%5D:80`); `None` if malformed or not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Routes {
    /// Answers `request`; `read_only` (the health listener) answers only `/healthz`,
    /// `/ready` and `/metrics`, and 404 to the rest.
    pub(crate) async fn handle(&self, request: Request<Incoming>, read_only: bool) -> Reply {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        if read_only && !matches!(path.as_str(), "/healthz" | "/ready" | "/metrics") {
            return text(
                StatusCode::NOT_FOUND,
                "404 Not Found: this listener serves /healthz, /ready and /metrics only\n",
            );
        }
        if method == Method::POST && cross_site(&request) {
            return text(
                StatusCode::FORBIDDEN,
                "403 Forbidden: cross-site requests may not change the proxy\n",
            );
        }
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (segments.as_slice(), &method) {
            ([""], &Method::GET | &Method::HEAD) => self.page(),
            (["metrics"], &Method::GET | &Method::HEAD) => self.metrics(),
            (["healthz"], &Method::GET | &Method::HEAD) => text(StatusCode::OK, "ok\n"),
            (["ready"], &Method::GET | &Method::HEAD) => self.ready(),
            (["status"], &Method::GET | &Method::HEAD) => {
                json_reply(StatusCode::OK, &self.status())
            }
            (["reload"], &Method::POST) => self.reload().await,
            (["backends", cluster, address, action], &Method::POST) => {
                self.backend(cluster, address, action)
            }
            ([""] | ["metrics"] | ["healthz"] | ["ready"] | ["status"], _) => {
                not_allowed("GET, HEAD")
            }
            (["reload"] | ["backends", _, _, "drain" | "enable"], _) => not_allowed("POST"),
            _ => text(
                StatusCode::NOT_FOUND,
                "404 Not Found: try /, /metrics, /healthz, /ready, /status, POST /reload, \
                 POST /backends/{cluster}/{address}/drain or /enable\n",
            ),
        }
    }

    fn status(&self) -> Status {
        let state = &self.state;
        let snapshot = state.control.current();
        let reloads = state.reloads();
        let discovery = state.discovery();
        Status::of(
            &snapshot,
            |name| state.control.local_addr(name),
            &reloads,
            &discovery,
            state.is_ready(),
        )
    }

    fn page(&self) -> Reply {
        reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            page::render(&self.status()),
        )
    }

    fn metrics(&self) -> Reply {
        match &self.exporter {
            Some(exporter) => reply(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                exporter.render(&self.state),
            ),
            None => text(
                StatusCode::NOT_FOUND,
                "404 Not Found: metrics are off (admin.metrics: false)\n",
            ),
        }
    }

    fn ready(&self) -> Reply {
        if self.state.is_ready() {
            text(StatusCode::OK, "ready\n")
        } else {
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "503 Service Unavailable: draining\n",
            )
        }
    }

    async fn reload(&self) -> Reply {
        let (tx, rx) = oneshot::channel();
        let unavailable = |why: &str| {
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("503 Service Unavailable: {why}\n"),
            )
        };
        if self.triggers.send(Trigger::Admin(tx)).await.is_err() {
            return unavailable("the reload task has stopped");
        }
        match tokio::time::timeout(RELOAD_WAIT, rx).await {
            Ok(Ok(ReloadOutcome::Applied {
                generation,
                changes,
            })) => json_reply(
                StatusCode::OK,
                &json!({ "result": "success", "generation": generation, "changes": changes }),
            ),
            Ok(Ok(ReloadOutcome::Rejected(errors))) => {
                let errors: Vec<_> = errors
                    .iter()
                    .map(|e| json!({ "path": e.path, "message": e.message, "line": e.line }))
                    .collect();
                json_reply(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &json!({ "result": "error", "errors": errors }),
                )
            }
            Ok(Err(_)) => unavailable("the reload task has stopped"),
            Err(_) => unavailable("the reload did not finish in time"),
        }
    }

    fn backend(&self, cluster: &str, address: &str, action: &str) -> Reply {
        let drained = match action {
            "drain" => true,
            "enable" => false,
            _ => {
                return text(
                    StatusCode::NOT_FOUND,
                    format!("404 Not Found: unknown action \"{action}\" (use drain or enable)\n"),
                );
            }
        };
        let Some(address) = percent_decode(address).and_then(|a| a.parse::<SocketAddr>().ok())
        else {
            return text(
                StatusCode::BAD_REQUEST,
                format!("400 Bad Request: \"{address}\" is not a backend address (IP:port)\n"),
            );
        };
        let Some(cluster_name) = percent_decode(cluster) else {
            return text(
                StatusCode::BAD_REQUEST,
                "400 Bad Request: bad cluster name\n",
            );
        };
        let snapshot = self.state.control.current();
        let Some(cluster) = snapshot.cluster(&cluster_name) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("404 Not Found: no cluster \"{cluster_name}\"\n"),
            );
        };
        let Some(before) = cluster.set_drained(address, drained) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("404 Not Found: cluster \"{cluster_name}\" has no backend {address}\n"),
            );
        };
        let state = cluster
            .backend(address)
            .map_or("unknown", |(_, b)| b.state().as_str());
        if before != drained {
            let done = if drained { "drained" } else { "enabled" };
            tracing::info!(cluster = %cluster_name, backend = %address, "backend {done} through the admin API: now {state}");
        }
        json_reply(
            StatusCode::OK,
            &json!({
                "cluster": cluster_name,
                "backend": address.to_string(),
                "drained": drained,
                "changed": before != drained,
                "state": state,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("%5B::1%5D:80").as_deref(), Some("[::1]:80"));
        assert_eq!(
            percent_decode("127.0.0.1:80").as_deref(),
            Some("127.0.0.1:80")
        );
        assert_eq!(percent_decode("%5"), None);
        assert_eq!(percent_decode("%zz"), None);
    }

    #[test]
    fn cross_site_posts_are_recognised() {
        let request = |origin: Option<&str>| {
            let mut b = Request::post("/reload").header(header::HOST, "127.0.0.1:9901");
            if let Some(o) = origin {
                b = b.header(header::ORIGIN, o);
            }
            b.body(()).unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(!cross_site(&request(None)));
        assert!(!cross_site(&request(Some("http://127.0.0.1:9901"))));
        assert!(cross_site(&request(Some("https://evil.example"))));
        assert!(cross_site(&request(Some("null"))));
    }
}
