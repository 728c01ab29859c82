//! The access log: one line per request (target `access`), written when its response
//! body ends or the client goes away, with what nginx's `combined` format and Envoy's
//! default carry.
//!
//! Lifecycle: [`AccessRecord::begin`] copies the request's fields before it is
//! forwarded (only when `access_log: true`: otherwise nothing here runs);
//! [`AccessRecord::answered`] adds the outcome once the response head is known; the
//! response body then owns the record, adds the bytes it sends, and writing the line
//! is the record's drop. Every value taken from the request is recorded as a string
//! field, which both log formats escape (text quotes it, JSON encodes it), so no value
//! can start a new line. A field with no value (`upstream_status`, `cluster` and
//! `backend` of a request that reached none) is left out.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderValue, Request, header};

use crate::identity::Identity;

/// Where a request went and how it was answered, as far as the log needs it.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Status sent to the client.
    pub(crate) status: u16,
    /// Status the backend answered with, when the answer came from one.
    pub(crate) upstream_status: Option<u16>,
    /// Cluster routed to.
    pub(crate) cluster: Option<String>,
    /// Backend address of the last attempt.
    pub(crate) backend: Option<String>,
    /// Backends tried.
    pub(crate) attempts: u32,
    /// The client went away before the answer was made (a 499): whatever becomes of
    /// the answer's body, it was not delivered.
    pub(crate) client_gone: bool,
}

/// One request's log line in the making.
#[derive(Debug)]
pub(crate) struct AccessRecord {
    started: Instant,
    listener: String,
    peer: IpAddr,
    client: IpAddr,
    method: String,
    host: String,
    target: String,
    version: &'static str,
    request_id: String,
    user_agent: String,
    referer: String,
    request_bytes: Arc<AtomicU64>,
    outcome: Outcome,
    head: Duration,
    response_bytes: u64,
    complete: bool,
}

impl AccessRecord {
    /// Copies what the line needs from the request, before it is forwarded.
    pub(crate) fn begin<B>(
        listener: &str,
        request: &Request<B>,
        identity: &Identity,
        started: Instant,
    ) -> Self {
        let header = |name| request.headers().get(name).map_or_else(String::new, text);
        let mut record = Self::unparsed(listener, "", identity, started);
        record.method = request.method().as_str().to_owned();
        record.host = request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_else(|| header(header::HOST));
        record.target = request
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        record.version = version(request.version());
        record.user_agent = header(header::USER_AGENT);
        record.referer = header(header::REFERER);
        record
    }

    /// The line of a request refused before it was parsed whole: `line` is its
    /// `METHOD target` as far as it was read (empty if not even that).
    pub(crate) fn unparsed(
        listener: &str,
        line: &str,
        identity: &Identity,
        started: Instant,
    ) -> Self {
        let (method, target) = line.split_once(' ').unwrap_or((line, ""));
        AccessRecord {
            started,
            listener: listener.to_owned(),
            peer: identity.peer.ip,
            client: identity.client,
            method: method.to_owned(),
            host: String::new(),
            target: target.to_owned(),
            version: "-",
            request_id: text(&identity.request_id),
            user_agent: String::new(),
            referer: String::new(),
            request_bytes: Arc::default(),
            outcome: Outcome::default(),
            head: Duration::ZERO,
            response_bytes: 0,
            complete: false,
        }
    }

    /// The counter the request body adds its bytes to.
    pub(crate) fn request_bytes(&self) -> Arc<AtomicU64> {
        self.request_bytes.clone()
    }

    /// The response head is known: where the request went and what it got.
    pub(crate) fn answered(&mut self, outcome: Outcome) {
        self.outcome = outcome;
        self.head = self.started.elapsed();
    }

    /// `n` more bytes of response body went to the client.
    pub(crate) fn sent(&mut self, n: usize) {
        self.response_bytes += n as u64;
    }

    /// The response body ended (rather than the client going away first).
    pub(crate) fn completed(&mut self) {
        self.complete = !self.outcome.client_gone;
    }
}

impl Drop for AccessRecord {
    fn drop(&mut self) {
        let o = &self.outcome;
        tracing::info!(
            target: "access",
            peer = %self.peer,
            client = %self.client,
            listener = self.listener.as_str(),
            method = self.method.as_str(),
            host = self.host.as_str(),
            path = self.target.as_str(),
            version = self.version,
            status = o.status,
            upstream_status = o.upstream_status,
            cluster = o.cluster.as_deref(),
            backend = o.backend.as_deref(),
            attempts = o.attempts,
            request_bytes = self.request_bytes.load(Ordering::Relaxed),
            response_bytes = self.response_bytes,
            head_ms = millis(self.head),
            duration_ms = millis(self.started.elapsed()),
            complete = self.complete,
            request_id = self.request_id.as_str(),
            user_agent = self.user_agent.as_str(),
            referer = self.referer.as_str(),
        );
    }
}

/// A header value as text; bytes that are not UTF-8 become U+FFFD.
fn text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// Milliseconds with microsecond precision.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn version(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_11 => "HTTP/1.1",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "-",
    }
}
