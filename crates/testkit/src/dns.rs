//! A small authoritative DNS server on `127.0.0.1` (UDP) whose records a test changes
//! while it serves ([`DnsServer`]): A, AAAA and SRV records (the SRV targets' addresses
//! given as glue in the additional section, as CoreDNS does for a headless Service),
//! SERVFAIL on demand, NXDOMAIN for a name it does not know, and a count of the
//! queries each name received. It runs on a thread of its own, so both the in-process
//! and the process-level tests can use it; it stops when dropped.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// How often the serving thread looks at its stop flag while no query comes.
const STOP_POLL: Duration = Duration::from_millis(50);

/// One SRV record as a test writes it: priority, weight, port, target.
pub type Srv<'a> = (u16, u16, u16, &'a str);

/// What a name holds.
#[derive(Debug, Default, Clone)]
struct Entry {
    addresses: Vec<IpAddr>,
    srv: Vec<(u16, u16, u16, String)>,
    ttl: u32,
    servfail: bool,
    queries: usize,
}

type Zone = BTreeMap<String, Entry>;

/// The server; see the module docs.
#[derive(Debug)]
pub struct DnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A name as the zone keys it: lower case, no trailing dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsServer {
    /// Serves an empty zone on `127.0.0.1:0`.
    pub fn start() -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("cannot bind the DNS server: {e}"));
        socket
            .set_read_timeout(Some(STOP_POLL))
            .unwrap_or_else(|e| panic!("cannot set the DNS server's read timeout: {e}"));
        let addr = socket
            .local_addr()
            .unwrap_or_else(|e| panic!("cannot read the DNS server's address: {e}"));
        let zone = Arc::new(Mutex::new(Zone::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (z, s) = (zone.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("testkit-dns".into())
            .spawn(move || serve(&socket, &z, &s))
            .unwrap_or_else(|e| panic!("cannot start the DNS server's thread: {e}"));
        DnsServer {
            addr,
            zone,
            stop,
            thread: Some(thread),
        }
    }

    /// Where it listens (give it as a source's `resolver:`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn edit(&self, name: &str, change: impl FnOnce(&mut Entry)) {
        let mut zone = self.zone.lock().unwrap_or_else(PoisonError::into_inner);
        change(zone.entry(key(name)).or_default());
    }

    /// `name`'s A and AAAA records become `addresses`, with `ttl` seconds; it answers
    /// again if it was failing.
    pub fn set_addresses(&self, name: &str, addresses: &[IpAddr], ttl: u32) {
        self.edit(name, |e| {
            e.addresses = addresses.to_vec();
            e.ttl = ttl;
            e.servfail = false;
        });
    }

    /// `name`'s SRV records become `records`, with `ttl` seconds.
    pub fn set_srv(&self, name: &str, records: &[Srv<'_>], ttl: u32) {
        self.edit(name, |e| {
            e.srv = records
                .iter()
                .map(|(p, w, port, t)| (*p, *w, *port, key(t)))
                .collect();
            e.ttl = ttl;
            e.servfail = false;
        });
    }

    /// From now on every query for `name` gets SERVFAIL (`true`), or its records
    /// again (`false`).
    pub fn servfail(&self, name: &str, failing: bool) {
        self.edit(name, |e| e.servfail = failing);
    }

    /// Forgets `name`: its queries get NXDOMAIN.
    pub fn remove(&self, name: &str) {
        let mut zone = self.zone.lock().unwrap_or_else(PoisonError::into_inner);
        zone.remove(&key(name));
    }

    /// Queries `name` received so far (every type).
    pub fn queries(&self, name: &str) -> usize {
        let zone = self.zone.lock().unwrap_or_else(PoisonError::into_inner);
        zone.get(&key(name)).map_or(0, |e| e.queries)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers queries until `stop`; a datagram that is not a query is ignored.
fn serve(socket: &UdpSocket, zone: &Mutex<Zone>, stop: &AtomicBool) {
    let mut buffer = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, peer)) = socket.recv_from(&mut buffer) else {
            continue;
        };
        let Ok(query) = Message::from_vec(&buffer[..n]) else {
            continue;
        };
        let mut zone = zone.lock().unwrap_or_else(PoisonError::into_inner);
        let answer = answer(&query, &mut zone);
        drop(zone);
        if let Ok(bytes) = answer.to_vec() {
            let _ = socket.send_to(&bytes, peer);
        }
    }
}

/// The response to `query` from `zone`.
fn answer(query: &Message, zone: &mut Zone) -> Message {
    let mut out = Message::response(query.metadata.id, OpCode::Query);
    out.metadata.message_type = MessageType::Response;
    out.metadata.authoritative = true;
    out.metadata.recursion_desired = query.metadata.recursion_desired;
    out.metadata.recursion_available = true;
    let Some(q) = query.queries.first() else {
        out.metadata.response_code = ResponseCode::FormErr;
        return out;
    };
    out.add_query(q.clone());
    let name = key(&q.name.to_ascii());
    let Some(entry) = zone.get_mut(&name) else {
        out.metadata.response_code = ResponseCode::NXDomain;
        return out;
    };
    entry.queries += 1;
    if entry.servfail {
        out.metadata.response_code = ResponseCode::ServFail;
        return out;
    }
    let entry = entry.clone();
    out.answers = records(&q.name, &entry, q.query_type);
    if q.query_type == RecordType::SRV {
        for (_, _, _, target) in &entry.srv {
            let Some(glue) = zone.get(target) else {
                continue;
            };
            let Ok(target_name) = Name::from_ascii(format!("{target}.")) else {
                continue;
            };
            for t in [RecordType::A, RecordType::AAAA] {
                out.additionals.extend(records(&target_name, glue, t));
            }
        }
    }
    out
}

/// `entry`'s records of type `wanted`, named `name`.
fn records(name: &Name, entry: &Entry, wanted: RecordType) -> Vec<Record> {
    let record = |data| Record::from_rdata(name.clone(), entry.ttl, data);
    match wanted {
        RecordType::A | RecordType::AAAA => entry
            .addresses
            .iter()
            .filter_map(|ip| match (ip, wanted) {
                (IpAddr::V4(v4), RecordType::A) => Some(record(RData::A(A(*v4)))),
                (IpAddr::V6(v6), RecordType::AAAA) => Some(record(RData::AAAA(AAAA(*v6)))),
                _ => None,
            })
            .collect(),
        RecordType::SRV => entry
            .srv
            .iter()
            .filter_map(|(priority, weight, port, target)| {
                let target = Name::from_ascii(format!("{target}.")).ok()?;
                Some(record(RData::SRV(SRV::new(
                    *priority, *weight, *port, target,
                ))))
            })
            .collect(),
        _ => Vec::new(),
    }
}
