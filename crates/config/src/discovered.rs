//! A set of backends a discovery source found, made ready to serve in its cluster:
//! checked against the cluster's limits and put in one canonical order, so two
//! processes fed the same records build the same cluster (the same round-robin
//! sequence, the same hash placement) whatever order the answers came in.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;

use crate::policy_spec::PolicySpec;
use crate::spec::{BackendSpec, ClusterSpec, defaults};

/// Most backends one source may give a cluster: past it an answer is refused (and the
/// last good set kept), so a runaway registry cannot make each reload build a
/// million-backend table.
pub const MAX_DISCOVERED: usize = 10_000;

/// `set` as the backends of `cluster`, in address order, an address given twice (two
/// SRV records with the same target and port) taken once with the weights added (up
/// to the largest weight); or why the set cannot serve in this cluster.
pub fn discovered_set(
    cluster: &ClusterSpec,
    set: Vec<BackendSpec>,
) -> Result<Vec<BackendSpec>, String> {
    let mut merged: BTreeMap<SocketAddr, BackendSpec> = BTreeMap::new();
    for backend in set {
        match merged.get_mut(&backend.address) {
            Some(first) => {
                let sum = first.weight.get().saturating_add(backend.weight.get());
                let capped = sum.min(defaults::MAX_WEIGHT);
                first.weight = NonZeroU32::new(capped).unwrap_or(first.weight);
            }
            None => {
                merged.insert(backend.address, backend);
            }
        }
    }
    let count = merged.len();
    if count > MAX_DISCOVERED {
        return Err(format!(
            "{count} backends discovered: more than the {MAX_DISCOVERED} a cluster may have"
        ));
    }
    if let PolicySpec::Maglev { table_size, .. } = cluster.policy
        && count >= table_size as usize
    {
        return Err(format!(
            "{count} backends discovered: maglev.table_size {table_size} must be larger"
        ));
    }
    Ok(merged.into_values().collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn cluster(yaml_policy: &str) -> ClusterSpec {
        let text = format!(
            "listeners:\n  l:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: c\n\
             clusters:\n  c:\n    {yaml_policy}\n    discovery:\n      dns: {{ name: c.internal, port: 80 }}\n"
        );
        crate::parse(&text).unwrap().clusters.remove(0)
    }

    fn backend(address: &str, weight: u32) -> BackendSpec {
        BackendSpec {
            address: address.parse().unwrap(),
            weight: NonZeroU32::new(weight).unwrap(),
            down: false,
            name: None,
        }
    }

    #[test]
    fn sorts_by_address_and_adds_the_weights_of_an_address_given_twice() {
        let set = vec![
            backend("10.0.0.9:80", 1),
            backend("10.0.0.2:80", 2),
            backend("10.0.0.9:80", 3),
            backend("10.0.0.2:79", 9_999),
            backend("10.0.0.2:79", 9_999),
        ];
        let ready = discovered_set(&cluster("policy: round_robin"), set).unwrap();
        let shown: Vec<_> = ready
            .iter()
            .map(|b| (b.address.to_string(), b.weight.get()))
            .collect();
        let expected = [
            ("10.0.0.2:79", 10_000),
            ("10.0.0.2:80", 2),
            ("10.0.0.9:80", 4),
        ];
        let expected: Vec<_> = expected.iter().map(|(a, w)| (a.to_string(), *w)).collect();
        assert_eq!(shown, expected);
    }

    #[test]
    fn a_set_too_large_for_the_maglev_table_is_refused() {
        let c = cluster("policy: maglev\n    maglev: { table_size: 3 }");
        let two = vec![backend("10.0.0.1:80", 1), backend("10.0.0.2:80", 1)];
        assert_eq!(discovered_set(&c, two.clone()).unwrap().len(), 2);
        let mut three = two;
        three.push(backend("10.0.0.3:80", 1));
        assert_eq!(
            discovered_set(&c, three).unwrap_err(),
            "3 backends discovered: maglev.table_size 3 must be larger"
        );
    }
}
