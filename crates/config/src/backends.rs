//! Validation of a cluster's backends. An `address` is an IP literal (used as written)
//! or a `host:port` name, which stands for every address it resolves to (nginx's
//! `server name:port`): each becomes a backend with the entry's weight and `down`
//! flag, in the resolver's order. No address may be given twice in one cluster,
//! whether written out or reached through a name.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;

use crate::errors::Errors;
use crate::raw::{RawBackend, RawConfig};
use crate::resolve::{Lookups, Target};
use crate::spec::{BackendSpec, defaults};

/// Every `(host, port)` the backends of `raw` name, to be looked up before validation.
pub(crate) fn names(raw: &RawConfig) -> impl Iterator<Item = (String, u16)> + '_ {
    raw.clusters
        .values()
        .filter(|c| c.discovery.is_none())
        .flat_map(|c| &c.backends)
        .filter_map(|b| match Target::parse(&b.address) {
            Some(Target::Name(host, port)) => Some((host, port)),
            _ => None,
        })
}

/// The validated backends of one cluster (`at` is `clusters.NAME`), in file order with
/// a name's addresses in its place.
pub(crate) fn backends(
    errors: &mut Errors<'_>,
    at: &str,
    raw: &[RawBackend],
    lookups: &Lookups,
) -> Vec<BackendSpec> {
    if raw.is_empty() {
        errors.push(
            format!("{at}.backends"),
            "a cluster needs at least one backend",
        );
    }
    // Each address given so far, with the entry that gave it and that entry's name.
    let mut seen: HashMap<SocketAddr, (usize, Option<String>)> = HashMap::new();
    let mut out = Vec::new();
    for (i, b) in raw.iter().enumerate() {
        let path = format!("{at}.backends[{i}]");
        let resolved = addresses(errors, &path, b, lookups);
        let weight = weight(errors, &path, b);
        let Some((addresses, name)) = resolved else {
            continue;
        };
        for address in addresses {
            if let Some((first, other)) = seen.get(&address) {
                let message = duplicate(address, name.as_deref(), *first, other.as_deref());
                errors.push(format!("{path}.address"), message);
                continue;
            }
            seen.insert(address, (i, name.clone()));
            if let Some(weight) = weight {
                out.push(BackendSpec {
                    address,
                    weight,
                    down: b.down,
                    name: name.clone(),
                });
            }
        }
    }
    out
}

/// The addresses of one entry and, for a name, the name as `host:port`; `None` after
/// pushing why there are none.
fn addresses(
    errors: &mut Errors<'_>,
    at: &str,
    b: &RawBackend,
    lookups: &Lookups,
) -> Option<(Vec<SocketAddr>, Option<String>)> {
    match Target::parse(&b.address) {
        Some(Target::Ip(address)) => Some((vec![address], None)),
        Some(Target::Name(host, port)) => {
            let name = format!("{host}:{port}");
            match lookups.addresses(&host, port) {
                Ok(addresses) => Some((addresses, Some(name))),
                Err(why) => {
                    let message = format!("cannot resolve \"{name}\": {why}");
                    errors.push_transient(format!("{at}.address"), message);
                    None
                }
            }
        }
        None => {
            errors.push(
                format!("{at}.address"),
                format!(
                    "invalid socket address \"{}\" (expected IP:port or host:port, e.g. \
                     127.0.0.1:8080, [::1]:8080 or api.internal:8080)",
                    b.address
                ),
            );
            None
        }
    }
}

/// Why `address` is a duplicate: given by entry `first` already, with the names (if
/// any) that reach it. Two IP literals keep the short form.
fn duplicate(address: SocketAddr, name: Option<&str>, first: usize, other: Option<&str>) -> String {
    let head = format!("duplicate backend address {address}");
    match (name, other) {
        (None, None) => head,
        (None, Some(other)) => {
            format!("{head} (backends[{first}] \"{other}\" resolves to it too)")
        }
        (Some(name), None) => {
            format!("{head} (\"{name}\" resolves to it; backends[{first}] gives it too)")
        }
        (Some(name), Some(other)) => {
            format!("{head} (\"{name}\" resolves to it, and so does backends[{first}] \"{other}\")")
        }
    }
}

fn weight(errors: &mut Errors<'_>, at: &str, b: &RawBackend) -> Option<NonZeroU32> {
    let raw_weight = b.weight.unwrap_or(i64::from(defaults::WEIGHT));
    let weight = u32::try_from(raw_weight)
        .ok()
        .filter(|w| *w <= defaults::MAX_WEIGHT)
        .and_then(NonZeroU32::new);
    if weight.is_none() {
        errors.push(
            format!("{at}.weight"),
            format!(
                "weight {raw_weight} is out of range (1 to {})",
                defaults::MAX_WEIGHT
            ),
        );
    }
    weight
}
