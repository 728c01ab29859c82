//! The PROXY protocol keys: `listeners.*.proxy_protocol` (accept a header from
//! trusted senders) and `clusters.*.send_proxy_protocol` (send one to the backends).

use sluicegate_core::ProxyVersion;

use crate::errors::Errors;
use crate::l4_spec::{ProxyProtocolSpec, l4_defaults};
use crate::raw::RawProxyProtocol;

/// The listener's `proxy_protocol:` block: `None` when absent or `accept: false`.
/// `accept: true` needs a non-empty `trusted` list: a listener taking the header from
/// anyone would let any client name its own address.
pub(crate) fn accept(
    errors: &mut Errors<'_>,
    at: &str,
    raw: Option<&RawProxyProtocol>,
) -> Option<ProxyProtocolSpec> {
    let raw = raw?;
    let at = format!("{at}.proxy_protocol");
    let trusted = crate::trusted::trusted_proxies(errors, &format!("{at}.trusted"), &raw.trusted);
    let timeout = errors.duration(
        format!("{at}.timeout"),
        raw.timeout.as_deref(),
        l4_defaults::PROXY_PROTOCOL_TIMEOUT,
    );
    match raw.accept {
        None => {
            errors.push(
                format!("{at}.accept"),
                "missing (true reads a PROXY header before anything else, false turns it off)",
            );
            None
        }
        Some(false) => None,
        Some(true) if raw.trusted.is_empty() => {
            let msg = "accept: true needs the senders allowed to send a header (CIDRs or addresses, e.g. [10.0.0.0/8]); use [0.0.0.0/0, \"::/0\"] to trust every peer";
            errors.push(format!("{at}.trusted"), msg);
            None
        }
        Some(true) => Some(ProxyProtocolSpec { trusted, timeout }),
    }
}

/// `send_proxy_protocol:` of a cluster: `v1`, `v2` or absent.
pub(crate) fn send_version(
    errors: &mut Errors<'_>,
    at: &str,
    raw: Option<&str>,
) -> Option<ProxyVersion> {
    match raw? {
        "v1" => Some(ProxyVersion::V1),
        "v2" => Some(ProxyVersion::V2),
        other => {
            let msg = format!(
                "unknown PROXY protocol version \"{}\" (expected v1 or v2)",
                crate::wording::echo(other)
            );
            errors.push(format!("{at}.send_proxy_protocol"), msg);
            None
        }
    }
}
