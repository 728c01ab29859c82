//! A blocking HTTP/1.1 client on std sockets, for tests without a tokio runtime (the
//! process-level tests): one request per connection, sent with `Connection: close`
//! and read until the peer closes, every wait bounded by [`PROCESS_WAIT`]. A failed
//! exchange gives an empty answer instead of a panic, so a call can be polled until
//! it succeeds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use crate::PROCESS_WAIT;

/// `GET /` on `addr` with `Host: test`: the body, empty if the exchange failed.
pub fn get(addr: SocketAddr) -> String {
    let response = exchange(
        addr,
        "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    response.rsplit("\r\n\r\n").next().unwrap_or("").to_owned()
}

/// `method path` on `addr` with `Host: addr`, an empty body and the extra header lines
/// `headers` (`"Name: value\r\n"` each): the status and the body; `(0, "")` if the
/// exchange failed.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String) {
    let response = exchange(
        addr,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n{headers}\
             Connection: close\r\n\r\n"
        ),
    );
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_owned())
}

/// Writes `request` on a fresh connection to `addr` and returns what the peer sends
/// until it closes (empty if the connection failed; what arrived if the read failed or
/// timed out).
fn exchange(addr: SocketAddr, request: &str) -> String {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, PROCESS_WAIT) else {
        return String::new();
    };
    if stream.set_read_timeout(Some(PROCESS_WAIT)).is_err() {
        return String::new();
    }
    let _ = stream.write_all(request.as_bytes());
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}
