//! One key of an etcd prefix as a backend: its value is JSON,
//! `{"address": "10.0.0.7:8443", "weight": 2}` (`weight` optional, 1 by default; other
//! fields ignored, so a registry may keep its own beside them). The address is an IP
//! literal: a host name would need a lookup of its own, which DNS discovery does.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use serde::Deserialize;
use sluicegate_config::{BackendSpec, defaults};

#[derive(Deserialize)]
struct Registered {
    address: String,
    weight: Option<i64>,
}

/// The backend `value` registers, or why it registers none.
pub(crate) fn backend(value: &[u8]) -> Result<BackendSpec, String> {
    let registered: Registered = serde_json::from_slice(value).map_err(|e| {
        format!("not a backend: {e} (expected {{\"address\": \"IP:port\", \"weight\": N}})")
    })?;
    let address: SocketAddr = registered.address.trim().parse().map_err(|_| {
        format!(
            "invalid address \"{}\" (expected IP:port, e.g. 10.0.0.7:8443)",
            registered.address
        )
    })?;
    let raw = registered.weight.unwrap_or(i64::from(defaults::WEIGHT));
    let weight = u32::try_from(raw)
        .ok()
        .filter(|w| *w <= defaults::MAX_WEIGHT)
        .and_then(NonZeroU32::new)
        .ok_or_else(|| {
            format!(
                "weight {raw} is out of range (1 to {})",
                defaults::MAX_WEIGHT
            )
        })?;
    Ok(BackendSpec {
        address,
        weight,
        down: false,
        name: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_address_and_an_optional_weight() {
        let b =
            backend(br#"{"address": "10.0.0.7:8443", "weight": 2, "zone": "a"}"#).expect("valid");
        assert_eq!(
            (b.address.to_string(), b.weight.get()),
            ("10.0.0.7:8443".into(), 2)
        );
        let b = backend(br#"{"address": "[::1]:80"}"#).expect("valid");
        assert_eq!(b.weight.get(), 1);
    }

    #[test]
    fn says_why_a_value_is_no_backend() {
        let why = |v: &[u8]| backend(v).expect_err("invalid");
        assert!(why(b"10.0.0.7:80").starts_with("not a backend: "));
        assert_eq!(
            why(br#"{"address": "api.internal:80"}"#),
            "invalid address \"api.internal:80\" (expected IP:port, e.g. 10.0.0.7:8443)"
        );
        assert_eq!(
            why(br#"{"address": "10.0.0.7:80", "weight": 0}"#),
            "weight 0 is out of range (1 to 10000)"
        );
    }
}
