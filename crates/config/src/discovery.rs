//! Validation of a cluster's `discovery:` block. Nothing is contacted here (`check`
//! validates a discovered cluster offline): the source is only read and checked.

use std::net::{IpAddr, SocketAddr};

use crate::discovery_spec::{
    DiscoverySpec, DnsQuery, DnsSpec, EmptyAnswer, SourceSpec, discovery_defaults,
};
use crate::errors::Errors;
use crate::raw::{RawDiscovery, RawDns};

/// The validated block at `at` (`clusters.NAME.discovery`), or `None` after pushing
/// why there is none.
pub(crate) fn discovery(
    errors: &mut Errors<'_>,
    at: &str,
    raw: &RawDiscovery,
) -> Option<DiscoverySpec> {
    let empty = match raw.empty.as_deref() {
        None | Some("keep_last") => EmptyAnswer::KeepLast,
        Some("accept") => EmptyAnswer::Accept,
        Some(other) => {
            let message = format!("unknown value \"{other}\" (expected keep_last or accept)");
            errors.push(format!("{at}.empty"), message);
            EmptyAnswer::KeepLast
        }
    };
    let source = match (&raw.dns, &raw.etcd) {
        (Some(dns), None) => SourceSpec::Dns(self::dns(errors, &format!("{at}.dns"), dns)?),
        (None, Some(etcd)) => SourceSpec::Etcd(crate::discovery_etcd::etcd(
            errors,
            &format!("{at}.etcd"),
            etcd,
        )?),
        (None, None) => {
            errors.push(at, "give a source: dns or etcd");
            return None;
        }
        (Some(_), Some(_)) => {
            errors.push(at, "give one source: dns or etcd, not both");
            return None;
        }
    };
    Some(DiscoverySpec { source, empty })
}

fn dns(errors: &mut Errors<'_>, at: &str, raw: &RawDns) -> Option<DnsSpec> {
    let refresh = errors.duration(
        format!("{at}.refresh"),
        raw.refresh.as_deref(),
        discovery_defaults::REFRESH,
    );
    if refresh < discovery_defaults::MIN_REFRESH {
        let min = discovery_defaults::MIN_REFRESH.as_secs();
        errors.push(format!("{at}.refresh"), format!("must be at least {min}s"));
    }
    // `Some(None)`: the system's resolver; `None`: an invalid one (pushed).
    let resolver = match raw.resolver.as_deref() {
        None => Some(None),
        Some(text) => resolver(errors, &format!("{at}.resolver"), text).map(Some),
    };
    let query = query(errors, at, raw)?;
    Some(DnsSpec {
        query,
        refresh,
        resolver: resolver?,
    })
}

/// `name` with `port`, or `srv` alone.
fn query(errors: &mut Errors<'_>, at: &str, raw: &RawDns) -> Option<DnsQuery> {
    match (&raw.name, &raw.srv) {
        (Some(_), Some(_)) => {
            errors.push(at, "give name (A/AAAA records) or srv, not both");
            None
        }
        (None, None) => {
            let message = "give name (A/AAAA records, with port) or srv (SRV records)";
            errors.push(at, message);
            None
        }
        (Some(name), None) => {
            let name = host(errors, &format!("{at}.name"), name);
            let port = match raw.port {
                None => {
                    let message = "required with name (SRV records carry their own ports)";
                    errors.push(format!("{at}.port"), message);
                    None
                }
                Some(p) => port(errors, &format!("{at}.port"), p),
            };
            Some(DnsQuery::Addresses {
                name: name?,
                port: port?,
            })
        }
        (None, Some(srv)) => {
            if raw.port.is_some() {
                let message = "applies only with name: SRV records carry their own ports";
                errors.push(format!("{at}.port"), message);
            }
            let name = host(errors, &format!("{at}.srv"), srv)?;
            Some(DnsQuery::Srv { name })
        }
    }
}

/// A DNS name as written, without a trailing dot.
fn host(errors: &mut Errors<'_>, at: &str, raw: &str) -> Option<String> {
    let name = raw.trim().trim_end_matches('.');
    if crate::resolve::is_host_name(name) {
        return Some(name.to_owned());
    }
    errors.push(at, format!("invalid DNS name \"{raw}\""));
    None
}

fn port(errors: &mut Errors<'_>, at: &str, raw: i64) -> Option<u16> {
    let port = u16::try_from(raw).ok().filter(|p| *p > 0);
    if port.is_none() {
        errors.push(at, format!("port {raw} is out of range (1 to 65535)"));
    }
    port
}

/// `IP` (port 53) or `IP:port`: a resolver is never a name (it would need a
/// resolver of its own).
fn resolver(errors: &mut Errors<'_>, at: &str, raw: &str) -> Option<SocketAddr> {
    let text = raw.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Some(address);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, discovery_defaults::DNS_PORT));
    }
    let message = format!("invalid resolver \"{raw}\" (expected IP or IP:port, e.g. 127.0.0.1:53)");
    errors.push(at, message);
    None
}
