//! `listeners.*.trusted_proxies`: the peers whose `X-Forwarded-*`, `X-Real-IP` and
//! `X-Request-Id` are believed (nginx `set_real_ip_from`, Traefik `trustedIPs`).

use ipnet::IpNet;

use crate::errors::Errors;

/// Parses each entry: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address
/// (`127.0.0.1`, `::1`). Host bits after the prefix are cleared (`10.1.2.3/8` is
/// `10.0.0.0/8`), as nginx does. Bad entries are reported and left out.
pub(crate) fn trusted_proxies(errors: &mut Errors<'_>, at: &str, raw: &[String]) -> Vec<IpNet> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, text) in raw.iter().enumerate() {
        let trimmed = text.trim();
        let parsed = trimmed
            .parse::<IpNet>()
            .map(|net| net.trunc())
            .or_else(|_| trimmed.parse::<std::net::IpAddr>().map(IpNet::from));
        match parsed {
            Ok(net) if !out.contains(&net) => out.push(net),
            Ok(_) => {}
            Err(_) => errors.push(
                format!("{at}[{i}]"),
                format!(
                    "invalid address or CIDR \"{}\" (expected e.g. 10.0.0.0/8, 127.0.0.1 or fd00::/8)",
                    crate::wording::echo(trimmed)
                ),
            ),
        }
    }
    out
}
