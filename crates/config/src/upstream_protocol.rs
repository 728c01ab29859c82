//! How a cluster talks to its backends: `upstream_protocol` (`http1`, `h2`, `h2c`),
//! `h2_keepalive`, and `tls` (`sni`, `verify`, `ca`). `h2` is HTTP/2 over TLS, so it
//! implies `tls:` with its defaults; `h2c` is cleartext, so it excludes it.

use std::path::PathBuf;
use std::time::Duration;

use sluicegate_core::UpstreamProtocol;

use crate::errors::Errors;
use crate::raw::{RawCluster, RawUpstreamTls};
use crate::tls_spec::UpstreamTlsSpec;
use crate::wording::echo;

/// A cluster's upstream protocol settings.
pub(crate) struct Upstream {
    pub(crate) protocol: UpstreamProtocol,
    pub(crate) h2_keepalive: Option<Duration>,
    pub(crate) tls: Option<UpstreamTlsSpec>,
}

/// The settings of cluster `c` at `at`.
pub(crate) fn upstream(errors: &mut Errors<'_>, at: &str, c: &RawCluster) -> Upstream {
    let protocol = match c.upstream_protocol.as_deref().map(str::trim) {
        None | Some("http1") => UpstreamProtocol::Http1,
        Some("h2") => UpstreamProtocol::H2,
        Some("h2c") => UpstreamProtocol::H2c,
        Some(other) => {
            let msg = format!(
                "unknown upstream protocol \"{}\" (expected http1, h2 or h2c)",
                echo(other)
            );
            errors.push(format!("{at}.upstream_protocol"), msg);
            UpstreamProtocol::Http1
        }
    };
    let h2_keepalive = c
        .h2_keepalive
        .as_deref()
        .map(|raw| errors.duration(format!("{at}.h2_keepalive"), Some(raw), Duration::ZERO));
    if h2_keepalive.is_some() && !protocol.is_h2() {
        errors.push(
            format!("{at}.h2_keepalive"),
            "applies only to upstream_protocol h2 or h2c",
        );
    }
    let tls = match (&c.tls, protocol) {
        (Some(_), UpstreamProtocol::H2c) => {
            let msg = "h2c is cleartext HTTP/2: use upstream_protocol h2 for HTTP/2 over TLS";
            errors.push(format!("{at}.tls"), msg);
            None
        }
        (Some(raw), _) => Some(tls(errors, &format!("{at}.tls"), raw)),
        (None, UpstreamProtocol::H2) => Some(tls(
            errors,
            &format!("{at}.tls"),
            &RawUpstreamTls::default(),
        )),
        (None, _) => None,
    };
    Upstream {
        protocol,
        h2_keepalive: h2_keepalive.filter(|d| !d.is_zero()),
        tls,
    }
}

fn tls(errors: &mut Errors<'_>, at: &str, raw: &RawUpstreamTls) -> UpstreamTlsSpec {
    let sni = raw.sni.as_deref().map(str::trim).map(str::to_owned);
    if let Some(name) = &sni
        && (name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '/'))
    {
        errors.push(
            format!("{at}.sni"),
            format!("invalid server name \"{}\"", echo(name)),
        );
    }
    let ca = raw.ca.as_deref().map(str::trim);
    if ca.is_some_and(str::is_empty) {
        errors.push(format!("{at}.ca"), "a file path is required");
    }
    UpstreamTlsSpec {
        sni,
        verify: raw.verify.unwrap_or(true),
        ca: ca.filter(|p| !p.is_empty()).map(PathBuf::from),
    }
}
