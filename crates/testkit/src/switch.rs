//! [`Backend::switchable`]: a backend whose health a test turns bad and good again
//! while it runs, through its [`Switch`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use http::{Request, StatusCode};
use hyper::body::Incoming;

use crate::Backend;
use crate::backend::{Reply, spawn_http, text};

/// The path a [`Backend::switchable`] answers with its health status, and the default
/// `path` of the proxy's HTTP health checks. [`Backend::served`] leaves it out.
pub const HEALTH_PATH: &str = "/healthz";

/// Changes how its [`Backend::switchable`] answers from now on. Clones control the
/// same backend.
#[derive(Clone, Debug)]
pub struct Switch {
    statuses: Arc<Statuses>,
}

#[derive(Debug)]
struct Statuses {
    health: AtomicU16,
    other: AtomicU16,
}

impl Switch {
    /// Sets the status [`HEALTH_PATH`] answers (200 at first), e.g. 503 to fail the
    /// proxy's HTTP checks while the backend keeps serving. Panics if `status` is not a
    /// valid status code.
    pub fn set_health(&self, status: u16) {
        self.statuses.health.store(valid(status), Ordering::SeqCst);
    }

    /// Sets the status every other path answers (200 at first), e.g. 500 to make the
    /// backend fail requests while passing its checks. Panics if `status` is not a
    /// valid status code.
    pub fn set_status(&self, status: u16) {
        self.statuses.other.store(valid(status), Ordering::SeqCst);
    }
}

fn valid(status: u16) -> u16 {
    StatusCode::from_u16(status)
        .unwrap_or_else(|e| panic!("invalid status {status}: {e}"))
        .as_u16()
}

impl Backend {
    /// A backend that answers every request with body `name`: requests to
    /// [`HEALTH_PATH`] (any method, any query) with the status set by
    /// [`Switch::set_health`], all others with the one set by [`Switch::set_status`];
    /// both start at 200.
    pub fn switchable(name: &str) -> (Backend, Switch) {
        let name: Arc<str> = Arc::from(name);
        let statuses = Arc::new(Statuses {
            health: AtomicU16::new(200),
            other: AtomicU16::new(200),
        });
        let switch = Switch {
            statuses: statuses.clone(),
        };
        let backend = spawn_http(None, move |request| {
            let reply = answer(&name, &statuses, &request);
            async move { reply }
        });
        (backend, switch)
    }
}

fn answer(name: &str, statuses: &Statuses, request: &Request<Incoming>) -> Reply {
    let status = if request.uri().path() == HEALTH_PATH {
        &statuses.health
    } else {
        &statuses.other
    };
    let status = StatusCode::from_u16(status.load(Ordering::SeqCst))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    text(status, name.to_owned())
}
