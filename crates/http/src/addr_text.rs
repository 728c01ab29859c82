//! Addresses as header values (`X-Forwarded-For`, `X-Real-IP`, a missing `Host`),
//! made once per connection. An IPv4 address is written digit by digit: through
//! `Display` (a formatter call per octet, and a `String`) the two addresses of each
//! new connection cost ~2,000 instructions (callgrind, `benches/instructions.sh
//! --handshakes`). Anything else goes through `Display`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use http::HeaderValue;

/// Longest text written by hand: `255.255.255.255:65535`.
const LONGEST: usize = 21;

/// `ip` as text (`203.0.113.9`, `2001:db8::1`).
pub(crate) fn ip_value(ip: IpAddr) -> HeaderValue {
    let value = match ip {
        IpAddr::V4(v4) => HeaderValue::from_bytes(Text::v4(v4).as_bytes()),
        IpAddr::V6(v6) => HeaderValue::from_str(&v6.to_string()),
    };
    value.unwrap_or(HeaderValue::from_static("-"))
}

/// `addr` as text (`203.0.113.9:8080`, `[2001:db8::1]:8080`).
pub(crate) fn addr_value(addr: SocketAddr) -> HeaderValue {
    let value = match addr {
        SocketAddr::V4(v4) => {
            let mut text = Text::v4(*v4.ip());
            text.push(b':');
            text.number(v4.port());
            HeaderValue::from_bytes(text.as_bytes())
        }
        SocketAddr::V6(v6) => HeaderValue::from_str(&v6.to_string()),
    };
    value.unwrap_or(HeaderValue::from_static("localhost"))
}

/// A short text on the stack.
struct Text {
    bytes: [u8; LONGEST],
    len: usize,
}

impl Text {
    fn v4(ip: Ipv4Addr) -> Self {
        let mut text = Text {
            bytes: [0; LONGEST],
            len: 0,
        };
        for (i, octet) in ip.octets().into_iter().enumerate() {
            if i > 0 {
                text.push(b'.');
            }
            text.number(u16::from(octet));
        }
        text
    }

    fn number(&mut self, n: u16) {
        let mut digits = [0u8; 5];
        let mut at = digits.len();
        let mut rest = n;
        loop {
            at -= 1;
            // `rest % 10` is below 10: the cast keeps it whole.
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        for &digit in &digits[at..] {
            self.push(digit);
        }
    }

    /// Appends `byte`; never past [`LONGEST`] (no address is longer).
    fn push(&mut self, byte: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn addresses_read_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "255.255.255.255",
            "2001:db8::1",
            "::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_value(ip), ip.to_string().as_str());
        }
        for addr in [
            "127.0.0.1:80",
            "192.168.1.9:65535",
            "1.2.3.4:0",
            "[2001:db8::1]:8443",
        ] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(addr_value(addr), addr.to_string().as_str());
        }
    }

    proptest::proptest! {
        #[test]
        fn every_ipv4_socket_address_reads_as_display_writes_it(ip: u32, port: u16) {
            let addr = SocketAddr::from((Ipv4Addr::from(ip), port));
            let (addr_text, ip_text) = (addr.to_string(), addr.ip().to_string());
            proptest::prop_assert_eq!(addr_value(addr), addr_text.as_str());
            proptest::prop_assert_eq!(ip_value(addr.ip()), ip_text.as_str());
        }
    }
}
