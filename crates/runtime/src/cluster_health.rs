//! Config → health parameters of one cluster (checks, outlier, panic threshold). An
//! HTTP check of a cluster whose `upstream_protocol` is `h2` or `h2c` goes as HTTP/2;
//! the TLS it goes over is per backend (`check_transport.rs`).

use std::sync::Arc;

use sluicegate_config::{CheckKind, ClusterSpec, HealthCheckSpec};
use sluicegate_health::{Check, HttpProbe, Outlier, Probe, Unreachable};

use crate::cluster::ClusterHealth;

/// The health parameters of `spec`.
pub(crate) fn cluster_health(spec: &ClusterSpec) -> ClusterHealth {
    ClusterHealth {
        check: spec.health_check.as_ref().map(|c| Arc::new(check(c, spec))),
        outlier: spec.outlier.as_ref().map(|o| Outlier {
            consecutive_failures: o.consecutive_failures,
            base_ejection: o.base_ejection,
            max_ejection: o.max_ejection,
            max_ejected_percent: o.max_ejected_percent,
        }),
        unreachable: spec.unreachable.as_ref().map(|u| Unreachable {
            base: u.ejection,
            max: u.max_ejection,
            until_check_passes: spec.health_check.is_some(),
        }),
        panic_threshold: spec.panic_threshold,
    }
}

fn check(spec: &HealthCheckSpec, cluster: &ClusterSpec) -> Check {
    let probe = match &spec.kind {
        CheckKind::Tcp => Probe::Tcp,
        CheckKind::Http(http) => Probe::Http(HttpProbe {
            path: http.path.clone(),
            // Validation admits only upper-case names, which are all valid methods.
            method: http::Method::from_bytes(http.method.as_bytes()).unwrap_or(http::Method::GET),
            host: http.host.clone(),
            expect: http.expect.clone(),
            // Checks speak what the requests speak: an h2-only backend (a gRPC
            // server) answers nothing else.
            h2: cluster.upstream_protocol.is_h2(),
        }),
    };
    Check {
        probe,
        interval: spec.interval,
        timeout: spec.timeout,
        rise: spec.rise,
        fall: spec.fall,
        jitter_percent: spec.jitter_percent,
    }
}
