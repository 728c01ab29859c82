//! Validation of `discovery.etcd`: the endpoints, the prefix, the credentials and the
//! TLS files, read and checked only (nothing is contacted, no file is opened: the
//! source reports a file it cannot read when it starts).

use std::path::PathBuf;

use crate::discovery_spec::{EtcdSpec, EtcdTlsSpec, discovery_defaults};
use crate::errors::Errors;
use crate::raw::{RawEtcd, RawEtcdTls};
use crate::resolve::Target;

/// The validated block at `at` (`clusters.NAME.discovery.etcd`), or `None` after
/// pushing why there is none.
pub(crate) fn etcd(errors: &mut Errors<'_>, at: &str, raw: &RawEtcd) -> Option<EtcdSpec> {
    let before = errors.count();
    let scheme = endpoints(errors, at, &raw.endpoints);
    let prefix = raw.prefix.clone().unwrap_or_default();
    if prefix.is_empty() {
        errors.push(
            format!("{at}.prefix"),
            "required: the key prefix of the backends (e.g. /services/payments/)",
        );
    }
    let credentials = credentials(errors, at, raw);
    let tls = raw
        .tls
        .as_ref()
        .map(|t| tls(errors, &format!("{at}.tls"), t));
    if tls.is_some() && scheme == Some("http") {
        errors.push(format!("{at}.tls"), "applies only to https endpoints");
    }
    let timeout = errors.duration(
        format!("{at}.timeout"),
        raw.timeout.as_deref(),
        discovery_defaults::ETCD_TIMEOUT,
    );
    (errors.count() == before).then(|| EtcdSpec {
        endpoints: raw
            .endpoints
            .iter()
            .map(|e| e.trim().trim_end_matches('/').to_owned())
            .collect(),
        prefix,
        credentials,
        tls,
        timeout,
    })
}

/// Checks each endpoint; returns their scheme when they share one.
fn endpoints(errors: &mut Errors<'_>, at: &str, raw: &[String]) -> Option<&'static str> {
    if raw.is_empty() {
        errors.push(
            format!("{at}.endpoints"),
            "at least one endpoint is required (e.g. http://127.0.0.1:2379)",
        );
    }
    let mut schemes = Vec::new();
    for (i, endpoint) in raw.iter().enumerate() {
        match scheme(endpoint) {
            Some(scheme) => schemes.push(scheme),
            None => errors.push(
                format!("{at}.endpoints[{i}]"),
                format!(
                    "invalid endpoint \"{endpoint}\" (expected http://host:port or \
                     https://host:port, e.g. http://127.0.0.1:2379)"
                ),
            ),
        }
    }
    schemes.dedup();
    if schemes.len() > 1 {
        errors.push(format!("{at}.endpoints"), "mix of http and https endpoints");
    }
    schemes.first().copied()
}

/// `http` or `https` when `endpoint` is `SCHEME://host:port` (a trailing `/` allowed).
fn scheme(endpoint: &str) -> Option<&'static str> {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let (scheme, rest) = if let Some(rest) = endpoint.strip_prefix("http://") {
        ("http", rest)
    } else {
        ("https", endpoint.strip_prefix("https://")?)
    };
    Target::parse(rest).map(|_| scheme)
}

fn credentials(errors: &mut Errors<'_>, at: &str, raw: &RawEtcd) -> Option<(String, String)> {
    match (&raw.username, &raw.password) {
        (Some(user), Some(password)) => Some((user.clone(), password.clone())),
        (None, None) => None,
        (Some(_), None) => {
            errors.push(format!("{at}.password"), "required with username");
            None
        }
        (None, Some(_)) => {
            errors.push(format!("{at}.username"), "required with password");
            None
        }
    }
}

fn tls(errors: &mut Errors<'_>, at: &str, raw: &RawEtcdTls) -> EtcdTlsSpec {
    let path = |p: &Option<String>| p.as_deref().map(PathBuf::from);
    let identity = match (path(&raw.cert), path(&raw.key)) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        (Some(_), None) => {
            errors.push(format!("{at}.key"), "required with cert");
            None
        }
        (None, Some(_)) => {
            errors.push(format!("{at}.cert"), "required with key");
            None
        }
    };
    EtcdTlsSpec {
        ca: path(&raw.ca),
        identity,
    }
}
