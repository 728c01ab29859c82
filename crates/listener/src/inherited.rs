//! Listening sockets the process was handed at start instead of binding them: by
//! systemd (socket activation, `LISTEN_FDS`), or by the process it replaces (a binary
//! upgrade). The first bind of a listener whose configured address is a socket's
//! takes it, so connections already waiting in its accept queue are served, never
//! refused; sockets no listener takes are closed (and said so by the caller).
//!
//! A listener with more workers than it was handed sockets gets more: bound again
//! with `SO_REUSEPORT` beside them where the handed socket allows it, else the same
//! socket shared by several workers' accept loops. One with more sockets than
//! workers keeps them all (a worker then accepts on several).

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Mutex, PoisonError};

/// The sockets handed over and not taken yet.
#[derive(Debug, Default)]
pub struct Inherited {
    sockets: Mutex<Vec<TcpListener>>,
}

impl Inherited {
    /// Holds `sockets` until binds take them.
    pub fn new(sockets: Vec<TcpListener>) -> Self {
        Self {
            sockets: Mutex::new(sockets),
        }
    }

    /// Takes every socket bound to `address` (an exact match: a listener on port 0
    /// never takes one).
    pub fn take(&self, address: SocketAddr) -> Vec<TcpListener> {
        let mut sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        let all = std::mem::take(&mut *sockets);
        let (taken, kept) = all
            .into_iter()
            .partition(|s| s.local_addr().ok() == Some(address));
        *sockets = kept;
        taken
    }

    /// Closes the sockets no listener took; returns their addresses.
    pub fn close_untaken(&self) -> Vec<SocketAddr> {
        let mut sockets = self.sockets.lock().unwrap_or_else(PoisonError::into_inner);
        let left = std::mem::take(&mut *sockets);
        left.iter().filter_map(|s| s.local_addr().ok()).collect()
    }
}

/// `count` sockets (at least) from `taken`, made non-blocking: more bound with
/// `SO_REUSEPORT` when `count` exceeds them, or, where that is refused, the handed
/// sockets shared.
pub(crate) fn from_taken(
    taken: Vec<TcpListener>,
    address: SocketAddr,
    count: usize,
) -> io::Result<Vec<TcpListener>> {
    for socket in &taken {
        socket.set_nonblocking(true)?;
    }
    let handed = taken.len();
    let mut sockets = taken;
    while sockets.len() < count {
        let more = match crate::sockets::bind(address, 1) {
            Ok((mut bound, _)) if !bound.is_empty() => bound.remove(0),
            _ => sockets[sockets.len() % handed].try_clone()?,
        };
        sockets.push(more);
    }
    Ok(sockets)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_bind_takes_the_sockets_of_its_address_only_and_the_rest_can_be_closed() {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let b = TcpListener::bind("127.0.0.1:0").unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let inherited = Inherited::new(vec![a, b]);
        let taken = inherited.take(a_addr);
        assert_eq!(taken.len(), 1);
        assert!(inherited.take(a_addr).is_empty(), "taken twice");
        assert_eq!(inherited.close_untaken(), [b_addr]);
        assert!(inherited.close_untaken().is_empty());
    }

    #[test]
    fn more_workers_than_sockets_share_a_socket_that_refuses_reuseport() {
        // std's listener has no SO_REUSEPORT, as systemd's sockets by default.
        let socket = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap();
        let sockets = from_taken(vec![socket], address, 3).unwrap();
        assert_eq!(sockets.len(), 3);
        for s in &sockets {
            assert_eq!(s.local_addr().unwrap(), address);
        }
        // One socket behind all three: a connection is accepted by any of them.
        let _client = std::net::TcpStream::connect(address).unwrap();
        sockets[2].set_nonblocking(false).unwrap();
        assert!(sockets[2].accept().is_ok());
    }
}
