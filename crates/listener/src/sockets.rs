//! Listening sockets: one per worker for each listener address, bound with
//! `SO_REUSEPORT` when there is more than one, so the kernel spreads new connections
//! over them (see `workers.rs`).

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Pending connections a socket holds before the kernel refuses more (tokio's and
/// std's default).
const BACKLOG: i32 = 1024;

/// `count` non-blocking listening sockets on `address` (port 0: one port, chosen by
/// the first), and the address they are bound to.
pub(crate) fn bind(
    address: SocketAddr,
    count: usize,
) -> io::Result<(Vec<TcpListener>, SocketAddr)> {
    let first = socket(address, count > 1)?;
    let local = first.local_addr()?;
    let mut sockets = vec![first];
    for _ in 1..count {
        sockets.push(socket(local, true)?);
    }
    Ok((sockets, local))
}

/// One listening socket on `address`; `shared`: with `SO_REUSEPORT`.
fn socket(address: SocketAddr, shared: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    // As std and tokio do: a restart can bind at once over TIME_WAIT connections.
    socket.set_reuse_address(true)?;
    if shared {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_every_socket_to_the_port_the_first_one_got() {
        let (sockets, local) = bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        assert_eq!(sockets.len(), 3);
        assert_ne!(local.port(), 0);
        for socket in &sockets {
            assert_eq!(socket.local_addr().unwrap(), local);
        }
    }

    #[test]
    fn a_port_held_without_reuseport_is_refused() {
        let held = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = held.local_addr().unwrap();
        assert!(bind(address, 1).is_err());
        assert!(bind(address, 2).is_err());
    }
}
