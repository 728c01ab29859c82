//! One DNS source: its resolver (the system's, from `/etc/resolv.conf`, or the
//! configured server) and its lookup (A and AAAA of a name, or SRV records and their
//! targets' addresses), each answer with the time it stays valid (the lowest TTL).
//!
//! The resolver's cache is cleared before each lookup: the wait between lookups
//! already follows the TTLs (`source.rs`), and a lookup sooner than the TTL (the
//! `refresh` ceiling) must reach the server, not the cache.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{TokioResolver, net::DnsError};
use sluicegate_config::{BackendSpec, DnsQuery, DnsSpec};

use crate::srv::{self, SrvRecord};
use crate::update::Answer;

/// Longest wait for one server's answer to one query: glibc's per-try timeout.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Tries per query (each server): one retry after a lost datagram.
const ATTEMPTS: usize = 2;

/// A DNS source's resolver and what it asks.
pub(crate) struct DnsSource {
    resolver: TokioResolver,
    query: DnsQuery,
}

/// One lookup's answer and when it stops being valid (`None`: no TTL to follow,
/// after a failure or an empty answer).
pub(crate) struct Looked {
    pub(crate) answer: Answer,
    pub(crate) valid_until: Option<Instant>,
}

impl DnsSource {
    /// The source of `spec`, or why its resolver cannot be made (no usable
    /// `/etc/resolv.conf`).
    pub(crate) fn new(spec: &DnsSpec) -> Result<Self, String> {
        let mut builder = match spec.resolver {
            Some(server) => TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![name_server(server)]),
                TokioRuntimeProvider::default(),
            ),
            None => TokioResolver::builder_tokio()
                .map_err(|e| format!("cannot read the system's resolver config: {e}"))?,
        };
        let options = builder.options_mut();
        tune(options, spec.resolver.is_some());
        let resolver = builder
            .build()
            .map_err(|e| format!("cannot start a resolver: {e}"))?;
        Ok(Self {
            resolver,
            query: spec.query.clone(),
        })
    }

    /// Looks the source up once.
    pub(crate) async fn lookup(&self) -> Looked {
        self.resolver.clear_cache();
        let found = match &self.query {
            DnsQuery::Addresses { name, port } => self.addresses(name, *port).await,
            DnsQuery::Srv { name } => self.srv(name).await,
        };
        match found {
            Ok((backends, valid_until)) => Looked {
                answer: Answer::Found(backends),
                valid_until: Some(valid_until),
            },
            Err(e) if is_empty(&e) => Looked {
                answer: Answer::Found(Vec::new()),
                valid_until: None,
            },
            Err(e) => Looked {
                answer: Answer::Failed(e.to_string()),
                valid_until: None,
            },
        }
    }

    /// The backends at the addresses of `name`, on `port`.
    async fn addresses(
        &self,
        name: &str,
        port: u16,
    ) -> Result<(Vec<BackendSpec>, Instant), NetError> {
        let (ips, valid_until) = self.ips(name).await?;
        let shown = format!("{name}:{port}");
        let backends = ips.into_iter().map(|ip| BackendSpec {
            address: SocketAddr::new(ip, port),
            weight: NonZeroU32::MIN,
            down: false,
            name: Some(shown.clone()),
        });
        Ok((backends.collect(), valid_until))
    }

    /// The A and AAAA records of `name`, asked apart: a family with no records is
    /// fine, one that fails fails the lookup (the other family's addresses alone would
    /// be a partial answer taken for a whole one). No records at all is an empty
    /// answer (`is_empty`).
    async fn ips(&self, name: &str) -> Result<(Vec<IpAddr>, Instant), NetError> {
        let (v4, v6) = futures_util::join!(
            self.resolver.ipv4_lookup(name),
            self.resolver.ipv6_lookup(name)
        );
        let (mut ips, mut valid_until, mut empty) = (Vec::new(), None::<Instant>, None);
        for family in [v4, v6] {
            match family {
                Ok(lookup) => {
                    let until = lookup.valid_until();
                    valid_until = Some(valid_until.map_or(until, |u| u.min(until)));
                    ips.extend(lookup.answers().iter().filter_map(|r| r.data.ip_addr()));
                }
                Err(e) if is_empty(&e) => empty = Some(e),
                Err(e) => return Err(e),
            }
        }
        match (valid_until, empty) {
            (Some(valid_until), _) if !ips.is_empty() => Ok((ips, valid_until)),
            (_, Some(e)) => Err(e),
            _ => Err(NetError::Message("the records hold no address")),
        }
    }

    /// SRV records, then each chosen target's addresses: from the answer's additional
    /// section when the server put them there, else looked up. A target that does not
    /// resolve is left out (its records name nothing to connect to); one that fails
    /// to resolve fails the lookup (the set would be partial).
    async fn srv(&self, name: &str) -> Result<(Vec<BackendSpec>, Instant), NetError> {
        let lookup = self.resolver.srv_lookup(name).await?;
        let mut valid_until = lookup.valid_until();
        let records = lookup.answers().iter().filter_map(|r| match &r.data {
            RData::SRV(s) => Some(SrvRecord {
                priority: s.priority,
                weight: s.weight,
                port: s.port,
                target: s.target.to_utf8().trim_end_matches('.').to_owned(),
            }),
            _ => None,
        });
        let records: Vec<SrvRecord> = records.collect();
        let mut backends = Vec::new();
        for record in srv::lowest_priority(&records) {
            let glue: Vec<IpAddr> = lookup
                .additionals()
                .iter()
                .filter(|r| r.name.to_utf8().trim_end_matches('.') == record.target)
                .filter_map(|r| r.data.ip_addr())
                .collect();
            let addresses = if glue.is_empty() {
                match self.ips(&record.target).await {
                    Ok((ips, until)) => {
                        valid_until = valid_until.min(until);
                        ips
                    }
                    Err(e) if is_empty(&e) => Vec::new(),
                    Err(e) => return Err(e),
                }
            } else {
                glue
            };
            backends.extend(srv::backends(record, &addresses));
        }
        Ok((backends, valid_until))
    }
}

/// The configured server, over UDP with TCP for truncated answers.
fn name_server(server: SocketAddr) -> NameServerConfig {
    let mut config = NameServerConfig::udp_and_tcp(server.ip());
    for connection in &mut config.connections {
        connection.port = server.port();
    }
    config
}

/// Bounded queries, and for a configured server, nothing but
/// that server (no hosts file).
fn tune(options: &mut ResolverOpts, own_server: bool) {
    options.timeout = QUERY_TIMEOUT;
    options.attempts = ATTEMPTS;
    if own_server {
        options.use_hosts_file = ResolveHosts::Never;
    }
}

/// Whether `e` says the name has no such records (NOERROR with no answer, or
/// NXDOMAIN): an empty answer, not a failure.
fn is_empty(e: &NetError) -> bool {
    match e {
        NetError::Dns(DnsError::NoRecordsFound(none)) => {
            matches!(
                none.response_code,
                ResponseCode::NoError | ResponseCode::NXDomain
            )
        }
        _ => false,
    }
}
