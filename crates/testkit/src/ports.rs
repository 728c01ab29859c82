//! Local addresses for tests: a port nothing listens on ([`free_port`]), a port held
//! so that it refuses connections for as long as the test runs ([`RefusingPort`]), and
//! one port free on both loopback addresses, for backends addressed as `localhost`.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

/// How many ports [`localhost_listeners`] tries before it gives up.
const LOCALHOST_TRIES: usize = 20;

/// `127.0.0.1` with a port nothing listens on: bound, then closed at once. For a
/// listener of a proxy about to start, or an address that refuses connections.
/// Another program may take the port meanwhile: tests accept that small race.
pub fn free_port() -> SocketAddr {
    let listener = bind_v4();
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("no local address: {e}"))
}

/// `127.0.0.1` with a port that refuses every connection while this value lives: a
/// socket bound to it that never listens, so no other test (or program) can take the
/// port meanwhile, as it can a [`free_port`]. Works without a tokio runtime.
#[derive(Debug)]
pub struct RefusingPort {
    addr: SocketAddr,
    _socket: tokio::net::TcpSocket,
}

impl RefusingPort {
    /// A fresh one.
    pub fn new() -> Self {
        let socket =
            tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("cannot open a socket: {e}"));
        socket
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"));
        let addr = socket
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        Self {
            addr,
            _socket: socket,
        }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Default for RefusingPort {
    fn default() -> Self {
        Self::new()
    }
}

/// Listeners for `localhost:PORT`: one on `127.0.0.1` and, where the host has IPv6,
/// one on `[::1]` with the same port, so every address `localhost` may resolve to is
/// served. Blocking std listeners; panics if no port is free on both addresses after
/// a few tries.
pub(crate) fn localhost_listeners() -> Vec<TcpListener> {
    for _ in 0..LOCALHOST_TRIES {
        let v4 = bind_v4();
        let port = v4
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"))
            .port();
        match TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
            Ok(v6) => return vec![v4, v6],
            // The port is free on 127.0.0.1 only: try another.
            Err(e) if e.kind() == ErrorKind::AddrInUse => continue,
            // No IPv6 on this host: `localhost` is 127.0.0.1 only.
            Err(_) => return vec![v4],
        }
    }
    panic!("no port free on both 127.0.0.1 and [::1] in {LOCALHOST_TRIES} tries");
}

/// A blocking listener on `127.0.0.1` with a port chosen by the system.
pub(crate) fn bind_v4() -> TcpListener {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0: {e}"))
}
