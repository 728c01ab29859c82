//! `admin:`: where the admin API listens, and whether it may be reached from other
//! hosts.

use std::net::SocketAddr;

use crate::errors::Errors;
use crate::raw::RawAdmin;
use crate::spec::{AdminSpec, defaults};

/// The admin API's settings; the defaults without an `admin:` section.
pub(crate) fn admin(errors: &mut Errors<'_>, raw: Option<&RawAdmin>) -> AdminSpec {
    let Some(raw) = raw else {
        return AdminSpec::default();
    };
    let allow_remote = raw.allow_remote.unwrap_or(false);
    let address = match raw
        .address
        .as_deref()
        .map(|a| a.trim().parse::<SocketAddr>())
    {
        None => defaults::ADMIN_ADDRESS,
        Some(Ok(address)) => {
            if !address.ip().is_loopback() && !allow_remote {
                errors.push(
                    "admin.address",
                    format!(
                        "{address} is not a loopback address: the admin API can reload and drain, \
                         so set admin.allow_remote: true to expose it"
                    ),
                );
            }
            address
        }
        Some(Err(_)) => {
            errors.push(
                "admin.address",
                format!(
                    "invalid socket address \"{}\" (expected IP:port, e.g. 127.0.0.1:9901)",
                    raw.address.as_deref().unwrap_or_default()
                ),
            );
            defaults::ADMIN_ADDRESS
        }
    };
    let health_address = raw.health_address.as_deref().and_then(|text| {
        let parsed = text.trim().parse::<SocketAddr>();
        if parsed.is_err() {
            let message =
                format!("invalid socket address \"{text}\" (expected IP:port, e.g. 0.0.0.0:9902)");
            errors.push("admin.health_address", message);
        }
        parsed.ok()
    });
    if health_address.is_some_and(|h| h == address) {
        errors.push("admin.health_address", "must differ from admin.address");
    }
    AdminSpec {
        address,
        allow_remote,
        metrics: raw.metrics.unwrap_or(true),
        health_address,
    }
}
