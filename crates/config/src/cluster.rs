//! One entry of `clusters:`: its backends, policy, timeouts, health checking and
//! retries.

use std::time::Duration;

use sluicegate_core::ClusterName;

use crate::errors::Errors;
use crate::names::check_name;
use crate::raw::RawCluster;
use crate::resolve::Lookups;
use crate::spec::{ClusterSpec, QueueSpec, defaults};

/// Largest `max_connections`: past it the limit would never bind (file descriptors
/// run out first).
const MAX_CONNECTIONS: u32 = 1_000_000;

/// The cluster `name`, or `None` when an error leaves no usable policy.
pub(crate) fn cluster(
    errors: &mut Errors<'_>,
    name: &str,
    c: &RawCluster,
    lookups: &Lookups,
) -> Option<ClusterSpec> {
    let at = format!("clusters.{name}");
    check_name(errors, &at, name);
    let discovery = c
        .discovery
        .as_ref()
        .and_then(|d| crate::discovery::discovery(errors, &format!("{at}.discovery"), d));
    let backends = match &c.discovery {
        None => crate::backends::backends(errors, &at, &c.backends, lookups),
        Some(_) => {
            if !c.backends.is_empty() {
                let message = "backends and discovery are exclusive: a discovered cluster's \
                               backends come from its source";
                errors.push(format!("{at}.backends"), message);
            }
            Vec::new()
        }
    };
    // A name stands for all its addresses; an entry in error still counts as one.
    let count = backends.len().max(c.backends.len());
    let policy = crate::policy::policy(errors, &at, c, count);
    let timeouts = timeouts(errors, &at, c);
    let upstream = crate::upstream_protocol::upstream(errors, &at, c);
    let max_connections = c.max_connections.map(|n| {
        let at = format!("{at}.max_connections");
        crate::numbers::count(errors, at, Some(n), 1, 1, MAX_CONNECTIONS)
    });
    let queue = queue(errors, &at, c, timeouts.connect);
    // Every section is checked before `policy?` can return: a bad policy must not
    // hide the errors of the rest.
    let health_check = c
        .health_check
        .as_ref()
        .map(|h| crate::health::health_check(errors, &format!("{at}.health_check"), h));
    let outlier = c
        .outlier
        .as_ref()
        .map(|o| crate::health::outlier(errors, &format!("{at}.outlier"), o));
    let unreachable =
        crate::health::unreachable(errors, &format!("{at}.unreachable"), c.unreachable.as_ref());
    let panic_threshold = crate::health::panic_threshold(errors, &at, c.panic_threshold.as_ref());
    let retries = c
        .retries
        .as_ref()
        .map(|r| crate::retries::retries(errors, &format!("{at}.retries"), r));
    let send_proxy_protocol =
        crate::proxy_protocol::send_version(errors, &at, c.send_proxy_protocol.as_deref());
    Some(ClusterSpec {
        name: ClusterName::new(name),
        policy: policy?,
        connect_timeout: timeouts.connect,
        response_timeout: timeouts.response,
        response_body_timeout: timeouts.response_body,
        idle_timeout: timeouts.idle,
        max_connections,
        queue,
        upstream_protocol: upstream.protocol,
        h2_keepalive: upstream.h2_keepalive,
        tls: upstream.tls,
        slow_start: timeouts.slow_start,
        backends,
        discovery,
        health_check,
        outlier,
        unreachable,
        panic_threshold,
        retries,
        send_proxy_protocol,
    })
}

/// A cluster's timeouts and slow start, defaulted.
struct Timeouts {
    connect: Duration,
    response: Duration,
    response_body: Duration,
    idle: Duration,
    /// `None` when not given or zero.
    slow_start: Option<Duration>,
}

/// `max_pending` and `queue_timeout` (default: the connect timeout, as HAProxy's
/// `timeout queue`), which mean something only with `max_connections`.
fn queue(errors: &mut Errors<'_>, at: &str, c: &RawCluster, connect: Duration) -> QueueSpec {
    if c.max_connections.is_none() {
        for (key, set) in [
            ("max_pending", c.max_pending.is_some()),
            ("queue_timeout", c.queue_timeout.is_some()),
        ] {
            if set {
                let msg = "applies only with max_connections (without it nothing waits)";
                errors.push(format!("{at}.{key}"), msg);
            }
        }
    }
    let max_pending = crate::numbers::count(
        errors,
        format!("{at}.max_pending"),
        c.max_pending,
        defaults::MAX_PENDING,
        0,
        MAX_CONNECTIONS,
    );
    let timeout = errors.duration(
        format!("{at}.queue_timeout"),
        c.queue_timeout.as_deref(),
        connect,
    );
    QueueSpec {
        max_pending,
        timeout,
    }
}

fn timeouts(errors: &mut Errors<'_>, at: &str, c: &RawCluster) -> Timeouts {
    let connect = errors.duration(
        format!("{at}.connect_timeout"),
        c.connect_timeout.as_deref(),
        defaults::CONNECT_TIMEOUT,
    );
    let response = errors.duration(
        format!("{at}.response_timeout"),
        c.response_timeout.as_deref(),
        defaults::RESPONSE_TIMEOUT,
    );
    let response_body = errors.duration(
        format!("{at}.response_body_timeout"),
        c.response_body_timeout.as_deref(),
        defaults::RESPONSE_BODY_TIMEOUT,
    );
    let idle = errors.duration(
        format!("{at}.idle_timeout"),
        c.idle_timeout.as_deref(),
        defaults::IDLE_TIMEOUT,
    );
    let slow_start = c
        .slow_start
        .as_deref()
        .map(|raw| errors.duration(format!("{at}.slow_start"), Some(raw), Duration::ZERO));
    Timeouts {
        connect,
        response,
        response_body,
        idle,
        slow_start: slow_start.filter(|d| !d.is_zero()),
    }
}
