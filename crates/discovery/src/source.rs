//! One source's task, for as long as its cluster keeps its `discovery:` spec:
//!
//! 1. look up (the resolver is made at the first try, and again after a try that
//!    could not make it);
//! 2. hand the answer to the reload side ([`Update`]), which applies it, keeps the
//!    last good set, counts and logs;
//! 3. wait: after a good answer, until its records expire (the lowest TTL), at least
//!    `MIN_REFRESH` and at most the spec's `refresh`; after a failure or an empty
//!    answer, [`Backoff`]'s waits (1 s doubling up to `refresh`);
//! 4. again, until the task is aborted (the spec changed or the cluster left the
//!    config) or the reload side is gone.

use std::time::{Duration, Instant, SystemTime};

use sluicegate_config::{DiscoverySpec, SourceSpec, discovery_defaults};
use sluicegate_core::ClusterName;
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::dns::{DnsSource, Looked};
use crate::update::{Answer, Update};

/// Runs the source of `cluster` under `spec`, sending each answer on `updates`.
pub(crate) async fn run(cluster: ClusterName, spec: DiscoverySpec, updates: mpsc::Sender<Update>) {
    let dns = match &spec.source {
        SourceSpec::Dns(dns) => dns.clone(),
        SourceSpec::Etcd(etcd) => {
            let etcd = etcd.clone();
            return crate::etcd::run(cluster, spec, etcd, updates).await;
        }
    };
    let dns = &dns;
    let mut backoff = Backoff::new(dns.refresh);
    let mut source: Option<DnsSource> = None;
    loop {
        if source.is_none() {
            source = DnsSource::new(dns)
                .inspect_err(|why| tracing::debug!(%cluster, "{why}"))
                .ok();
        }
        let looked = match &source {
            Some(s) => s.lookup().await,
            None => Looked {
                answer: Answer::Failed("no resolver (see the log)".into()),
                valid_until: None,
            },
        };
        let wait = next_wait(&looked, dns.refresh, &mut backoff, Instant::now());
        let update = Update {
            cluster: cluster.clone(),
            spec: spec.clone(),
            answer: looked.answer,
            at: SystemTime::now(),
        };
        if updates.send(update).await.is_err() {
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

/// The wait before the next lookup, after `looked` at `now`.
fn next_wait(looked: &Looked, refresh: Duration, backoff: &mut Backoff, now: Instant) -> Duration {
    match (&looked.answer, looked.valid_until) {
        (Answer::Found(backends), Some(until)) if !backends.is_empty() => {
            backoff.reset();
            let ttl = until.saturating_duration_since(now);
            ttl.clamp(discovery_defaults::MIN_REFRESH, refresh)
        }
        _ => backoff.wait(),
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use sluicegate_config::BackendSpec;

    use super::*;

    fn found(ttl: Option<Duration>, now: Instant) -> Looked {
        let backend = BackendSpec {
            address: "10.0.0.1:80".parse().expect("an address"),
            weight: NonZeroU32::MIN,
            down: false,
            name: None,
        };
        Looked {
            answer: Answer::Found(vec![backend]),
            valid_until: ttl.map(|t| now + t),
        }
    }

    #[test]
    fn a_good_answer_waits_for_its_ttl_within_the_bounds() {
        let (now, refresh) = (Instant::now(), Duration::from_secs(30));
        let mut b = Backoff::new(refresh);
        let wait = |ttl, b: &mut Backoff| next_wait(&found(Some(ttl), now), refresh, b, now);
        assert_eq!(wait(Duration::from_secs(7), &mut b), Duration::from_secs(7));
        assert_eq!(wait(Duration::from_secs(300), &mut b), refresh);
        assert_eq!(
            wait(Duration::ZERO, &mut b),
            discovery_defaults::MIN_REFRESH
        );
    }

    #[test]
    fn failures_and_empty_answers_back_off_and_a_good_answer_resets() {
        let (now, refresh) = (Instant::now(), Duration::from_secs(30));
        let mut b = Backoff::new(refresh);
        let failed = Looked {
            answer: Answer::Failed("SERVFAIL".into()),
            valid_until: None,
        };
        let empty = Looked {
            answer: Answer::Found(Vec::new()),
            valid_until: None,
        };
        let secs = |l: &Looked, b: &mut Backoff| next_wait(l, refresh, b, now).as_secs();
        assert_eq!(
            [
                secs(&failed, &mut b),
                secs(&empty, &mut b),
                secs(&failed, &mut b)
            ],
            [1, 2, 4]
        );
        let good = found(Some(Duration::from_secs(10)), now);
        assert_eq!(secs(&good, &mut b), 10);
        assert_eq!(secs(&failed, &mut b), 1);
    }
}
