//! Backends given by host name (`api.internal:8080`): the address text read as an IP
//! literal or a `host:port` target, and the lookups of every name in one config.
//!
//! The lookup itself is injected, as `${VAR}` lookups are ([`crate::Env`]): this crate
//! does no network I/O of its own choosing. [`system_resolver`] is the one
//! [`crate::parse`] uses (the operating system's resolver, blocking, bounded by
//! [`LOOKUP_TIMEOUT`]); tests hand in a fixed table.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

/// Resolves `host` and `port` to socket addresses, or says why it could not. Blocking;
/// called once per distinct `host:port` of a config, several at a time.
pub type Resolver<'a> = &'a (dyn Fn(&str, u16) -> Result<Vec<SocketAddr>, String> + Sync);

/// Longest wait for one lookup by [`system_resolver`]: glibc's per-try timeout. A name
/// that takes longer fails the load (or the reload) instead of stalling it.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Names looked up at the same time, at most: a config with hundreds of names does not
/// start hundreds of threads.
const PARALLEL_LOOKUPS: usize = 16;

/// Resolves with the operating system's resolver (`getaddrinfo`: `/etc/hosts`, then
/// DNS, as `nsswitch.conf` says), giving up after [`LOOKUP_TIMEOUT`]. Blocking: call
/// it where blocking is allowed (a CLI, a reload task's blocking pool), never on the
/// data plane.
pub fn system_resolver(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let host = host.to_owned();
    bounded(LOOKUP_TIMEOUT, move || {
        (host.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect)
            .map_err(|e| e.to_string())
    })
}

/// Runs `lookup` on its own thread and waits for it at most `timeout`. A lookup that
/// overruns is left to finish on its thread (`getaddrinfo` cannot be cancelled); its
/// answer is dropped.
fn bounded<F>(timeout: Duration, lookup: F) -> Result<Vec<SocketAddr>, String>
where
    F: FnOnce() -> Result<Vec<SocketAddr>, String> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("sluicegate-lookup".into())
        .spawn(move || {
            // The receiver is gone when the wait timed out: nothing to tell.
            let _ = tx.send(lookup());
        })
        .map_err(|e| format!("cannot start a lookup thread: {e}"))?;
    match rx.recv_timeout(timeout) {
        Ok(answer) => answer,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("no answer within {timeout:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the lookup failed".into()),
    }
}

/// What a backend's `address` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// An IP literal: used as written, never looked up.
    Ip(SocketAddr),
    /// A host name and port, to be looked up.
    Name(String, u16),
}

impl Target {
    /// Reads `IP:port`, `[IPv6]:port` or `host:port`; `None` when it is none of them.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Some(Target::Ip(address));
        }
        let (host, port) = text.rsplit_once(':')?;
        let port = port.parse::<u16>().ok()?;
        is_host_name(host).then(|| Target::Name(host.to_owned(), port))
    }
}

/// A DNS name: labels of letters, digits, `-` and `_` (used in internal zones),
/// separated by dots, not starting or ending with `.` or `-`.
pub(crate) fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !host.starts_with(['.', '-'])
        && !host.ends_with(['.', '-'])
        && !host.contains("..")
}

/// The answers of every name of one config, each looked up once.
#[derive(Debug, Default)]
pub(crate) struct Lookups {
    answers: BTreeMap<(String, u16), Result<Vec<SocketAddr>, String>>,
}

impl Lookups {
    /// Looks up every distinct `(host, port)` of `names` with `resolver`, up to
    /// [`PARALLEL_LOOKUPS`] at a time, so a slow resolver costs the slowest lookup,
    /// not their sum.
    pub(crate) fn of(
        names: impl IntoIterator<Item = (String, u16)>,
        resolver: Resolver<'_>,
    ) -> Self {
        let mut pending: Vec<(String, u16)> = names.into_iter().collect();
        pending.sort();
        pending.dedup();
        let mut answers = BTreeMap::new();
        for batch in pending.chunks(PARALLEL_LOOKUPS) {
            std::thread::scope(|scope| {
                let running: Vec<_> = batch
                    .iter()
                    .map(|(host, port)| scope.spawn(move || resolver(host, *port)))
                    .collect();
                for (name, thread) in batch.iter().zip(running) {
                    let answer = thread
                        .join()
                        .unwrap_or_else(|_| Err("the resolver panicked".into()));
                    answers.insert(name.clone(), answer);
                }
            });
        }
        Self { answers }
    }

    /// The addresses `host:port` resolves to, in the resolver's order without
    /// duplicates, or why there are none.
    pub(crate) fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        let answer = self
            .answers
            .get(&(host.to_owned(), port))
            .cloned()
            .unwrap_or_else(|| Err("not looked up".into()))?;
        let mut unique = Vec::with_capacity(answer.len());
        for address in answer {
            if !unique.contains(&address) {
                unique.push(address);
            }
        }
        if unique.is_empty() {
            return Err("the name has no addresses".into());
        }
        Ok(unique)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_ip_literals_and_host_names() {
        let ip = |s: &str| Some(Target::Ip(s.parse().unwrap()));
        let name = |h: &str, p| Some(Target::Name(h.to_owned(), p));
        assert_eq!(Target::parse("127.0.0.1:80"), ip("127.0.0.1:80"));
        assert_eq!(Target::parse(" [::1]:80 "), ip("[::1]:80"));
        assert_eq!(Target::parse("localhost:9001"), name("localhost", 9001));
        assert_eq!(
            Target::parse("api.internal:8080"),
            name("api.internal", 8080)
        );
        assert_eq!(Target::parse("my_svc-1.ns:1"), name("my_svc-1.ns", 1));
        for bad in [
            "localhost",
            "localhost:",
            ":80",
            "api.internal:99999",
            "api.internal:-1",
            "[api.internal]:80",
            "::1:80",
            "bad host:80",
            "bad!:80",
            ".lead:80",
            "trail.:80",
            "a..b:80",
            "-x:80",
            "127.0.0.1:99999",
        ] {
            assert_eq!(Target::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn looks_each_name_up_once_and_drops_duplicates() {
        let calls = std::sync::Mutex::new(Vec::new());
        let resolver = |host: &str, port: u16| {
            calls.lock().unwrap().push(host.to_owned());
            match host {
                "two" => Ok(vec![
                    SocketAddr::from(([10, 0, 0, 1], port)),
                    SocketAddr::from(([10, 0, 0, 2], port)),
                    SocketAddr::from(([10, 0, 0, 1], port)),
                ]),
                "none" => Ok(Vec::new()),
                _ => Err("no such host".to_owned()),
            }
        };
        let names = [("two", 80), ("none", 80), ("two", 80), ("gone", 1)];
        let lookups = Lookups::of(names.map(|(h, p)| (h.to_owned(), p)), &resolver);
        assert_eq!(calls.lock().unwrap().len(), 3);
        let two = lookups.addresses("two", 80).unwrap();
        assert_eq!(
            two,
            [
                "10.0.0.1:80".parse().unwrap(),
                "10.0.0.2:80".parse().unwrap()
            ]
        );
        assert_eq!(
            lookups.addresses("none", 80),
            Err("the name has no addresses".into())
        );
        assert_eq!(lookups.addresses("gone", 1), Err("no such host".into()));
    }

    #[test]
    fn a_lookup_that_hangs_fails_after_the_timeout() {
        let slow = || {
            std::thread::sleep(Duration::from_secs(30));
            Ok(Vec::new())
        };
        let started = std::time::Instant::now();
        let answer = bounded(Duration::from_millis(50), slow);
        assert_eq!(answer, Err("no answer within 50ms".into()));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_system_resolver_knows_localhost_and_refuses_a_malformed_name() {
        // A label over 63 bytes: the system resolver refuses the name without sending a
        // query (checked with strace), so no test traffic leaves the machine.
        assert!(
            system_resolver(
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.invalid",
                80
            )
            .is_err()
        );
        let local = system_resolver("localhost", 80).unwrap();
        assert!(!local.is_empty());
        assert!(
            local.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
            "{local:?}"
        );
    }
}
