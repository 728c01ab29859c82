//! The peers a listener believes about who the client is (`trusted_proxies`).

use std::net::IpAddr;

use sluicegate_config::IpNet;

/// A set of networks; the empty set trusts nobody.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// These networks.
    pub fn new(nets: Vec<IpNet>) -> Self {
        Self { nets }
    }

    /// Whether no peer is trusted (the default): the hot path then skips every lookup.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// Whether `ip` is in one of the networks. An IPv4-mapped IPv6 address
    /// (`::ffff:10.0.0.1`, what a dual-stack socket reports) counts as its IPv4 form.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn set(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn matches_networks_and_mapped_addresses() {
        let trusted = set(&["10.0.0.0/8", "::1/128"]);
        assert!(trusted.contains("10.2.3.4".parse().unwrap()));
        assert!(trusted.contains("::ffff:10.2.3.4".parse().unwrap()));
        assert!(trusted.contains("::1".parse().unwrap()));
        assert!(!trusted.contains("11.0.0.1".parse().unwrap()));
        assert!(!trusted.contains("127.0.0.1".parse().unwrap()));
        assert!(!set(&[]).contains("10.0.0.1".parse().unwrap()));
    }
}
