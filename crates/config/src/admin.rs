//! `admin:`: where the admin API listens, whether it may be reached from other
//! hosts, and the Unix socket a binary upgrade takes the listening sockets from.

use std::net::SocketAddr;
use std::path::PathBuf;

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
        upgrade_socket: upgrade_socket(errors, raw.upgrade_socket.as_deref()),
    }
}

/// The longest path a Unix socket address holds (`sun_path` is 108 bytes on Linux,
/// one of them the terminating NUL).
const MAX_SOCKET_PATH: usize = 107;

/// `admin.upgrade_socket`: a path short enough to bind (checked again once made
/// relative to the config's directory, at bind time).
fn upgrade_socket(errors: &mut Errors<'_>, raw: Option<&str>) -> Option<PathBuf> {
    let text = raw?;
    if text.trim().is_empty() {
        errors.push(
            "admin.upgrade_socket",
            "must be a path, e.g. /run/sluicegate/upgrade.sock",
        );
        return None;
    }
    if text.len() > MAX_SOCKET_PATH {
        let message = format!(
            "is {} bytes long: a Unix socket path holds at most {MAX_SOCKET_PATH}",
            text.len()
        );
        errors.push("admin.upgrade_socket", message);
        return None;
    }
    Some(PathBuf::from(text))
}
