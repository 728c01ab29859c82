//! SRV records (RFC 2782) as backends: the records of the lowest priority only (the
//! others are for when all of those fail, which health checks and retries decide here,
//! among the backends of one priority), each target's addresses on the record's port,
//! weighted by the record's weight.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use sluicegate_config::{BackendSpec, defaults};

/// One SRV record, read out of the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SrvRecord {
    pub(crate) priority: u16,
    pub(crate) weight: u16,
    pub(crate) port: u16,
    /// The target host, without the trailing dot.
    pub(crate) target: String,
}

/// The records to use: those of the lowest priority, without the "no service" record
/// (target `.`, RFC 2782).
pub(crate) fn lowest_priority(records: &[SrvRecord]) -> Vec<&SrvRecord> {
    let serving = records.iter().filter(|r| !r.target.is_empty());
    let Some(lowest) = serving.clone().map(|r| r.priority).min() else {
        return Vec::new();
    };
    serving.filter(|r| r.priority == lowest).collect()
}

/// A record's weight as a backend weight: a weight of 0 ("very small chance", RFC
/// 2782) is 1, the least a backend here can have; past the largest weight, the largest.
pub(crate) fn weight(record: &SrvRecord) -> NonZeroU32 {
    let capped = u32::from(record.weight).clamp(1, defaults::MAX_WEIGHT);
    NonZeroU32::new(capped).unwrap_or(NonZeroU32::MIN)
}

/// The backends of `record` at `addresses` (its target's).
pub(crate) fn backends(record: &SrvRecord, addresses: &[IpAddr]) -> Vec<BackendSpec> {
    let name = format!("{}:{}", record.target, record.port);
    let weight = weight(record);
    let backend = |ip: &IpAddr| BackendSpec {
        address: SocketAddr::new(*ip, record.port),
        weight,
        down: false,
        name: Some(name.clone()),
    };
    addresses.iter().map(backend).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }

    #[test]
    fn only_the_lowest_priority_serves() {
        let records = [
            record(20, 5, 80, "backup.internal"),
            record(10, 1, 8080, "a.internal"),
            record(10, 3, 8081, "b.internal"),
            record(5, 1, 80, ""),
        ];
        let chosen: Vec<&str> = lowest_priority(&records)
            .iter()
            .map(|r| r.target.as_str())
            .collect();
        assert_eq!(chosen, ["a.internal", "b.internal"]);
        assert!(lowest_priority(&[record(0, 0, 0, "")]).is_empty());
    }

    #[test]
    fn weights_map_into_the_backend_range() {
        assert_eq!(weight(&record(0, 0, 80, "a")).get(), 1);
        assert_eq!(weight(&record(0, 7, 80, "a")).get(), 7);
        assert_eq!(
            weight(&record(0, u16::MAX, 80, "a")).get(),
            defaults::MAX_WEIGHT
        );
    }

    #[test]
    fn each_address_of_the_target_is_a_backend_on_the_record_port() {
        let r = record(0, 2, 8443, "a.internal");
        let ips: Vec<IpAddr> = ["10.0.0.1", "::1"].map(|ip| ip.parse().expect("ip")).into();
        let got: Vec<(String, u32, Option<String>)> = backends(&r, &ips)
            .into_iter()
            .map(|b| (b.address.to_string(), b.weight.get(), b.name))
            .collect();
        let name = Some("a.internal:8443".to_owned());
        assert_eq!(
            got,
            [
                ("10.0.0.1:8443".to_owned(), 2, name.clone()),
                ("[::1]:8443".to_owned(), 2, name),
            ]
        );
    }
}
