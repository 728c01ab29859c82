//! Passing open descriptors between processes over a Unix stream socket
//! (`SCM_RIGHTS`), for the binary upgrade: the receiver gets its own descriptors for
//! the same open sockets, as `dup` would give it. Over rustix, which does it without
//! `unsafe` (received descriptors arrive as `OwnedFd`, close-on-exec).
//!
//! On the wire, each batch is one byte `F` carrying up to [`PER_MESSAGE`]
//! descriptors, and the end is one byte `E` with none. The receiver reads one byte
//! per `recvmsg`, so it never reads past the byte a batch is attached to.

use std::io::{self, IoSlice, IoSliceMut, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, recvmsg, sendmsg,
};

/// The most descriptors Linux passes in one message (`SCM_MAX_FD`).
pub const PER_MESSAGE: usize = 253;

/// The most descriptors [`receive`] takes in all: far above any config's sockets
/// (a listener has one per worker), and a bound on what a confused peer can hand.
const MOST: usize = 65_536;

/// A batch of descriptors follows.
const BATCH: u8 = b'F';
/// No more descriptors.
const END: u8 = b'E';

/// Sends every descriptor of `fds` (the receiver gets its own), then the end.
pub fn send(stream: &UnixStream, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    for chunk in fds.chunks(PER_MESSAGE) {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(PER_MESSAGE))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(SendAncillaryMessage::ScmRights(chunk)) {
            return Err(io::Error::other("descriptor batch larger than its buffer"));
        }
        let sent = sendmsg(
            stream.as_fd(),
            &[IoSlice::new(&[BATCH])],
            &mut control,
            SendFlags::NOSIGNAL,
        )?;
        if sent != 1 {
            return Err(io::ErrorKind::WriteZero.into());
        }
    }
    (&*stream).write_all(&[END])
}

/// Receives the descriptors [`send`] sent, up to its end.
pub fn receive(stream: &UnixStream) -> io::Result<Vec<OwnedFd>> {
    let mut fds = Vec::new();
    loop {
        let mut byte = [0u8; 1];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(PER_MESSAGE))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let received = recvmsg(
            stream.as_fd(),
            &mut [IoSliceMut::new(&mut byte)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        )?;
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(passed) = message {
                fds.extend(passed);
            }
        }
        if received.flags.contains(ReturnFlags::CTRUNC) {
            return Err(io::Error::other("descriptors lost: their message was cut"));
        }
        if fds.len() > MOST {
            return Err(io::Error::other(format!("more than {MOST} descriptors")));
        }
        match (received.bytes, byte[0]) {
            (0, _) => return Err(io::ErrorKind::UnexpectedEof.into()),
            (_, BATCH) => {}
            (_, END) => return Ok(fds),
            (_, other) => {
                let message = format!("unexpected byte {other:#04x} among descriptors");
                return Err(io::Error::new(io::ErrorKind::InvalidData, message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::TcpListener;

    use super::*;

    #[test]
    fn sockets_arrive_in_order_across_batches_and_still_listen() {
        let sockets: Vec<TcpListener> = (0..PER_MESSAGE + 7)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let (a, b) = UnixStream::pair().unwrap();
        let borrowed: Vec<BorrowedFd<'_>> = sockets.iter().map(AsFd::as_fd).collect();
        let received = std::thread::scope(|scope| {
            scope.spawn(move || send(&a, &borrowed).unwrap());
            receive(&b).unwrap()
        });
        assert_eq!(received.len(), sockets.len());
        for (original, fd) in sockets.iter().zip(received) {
            let passed = TcpListener::from(fd);
            let address = original.local_addr().unwrap();
            assert_eq!(passed.local_addr().unwrap(), address);
            // The same socket: a connection to it is accepted through the passed one.
            let _client = std::net::TcpStream::connect(address).unwrap();
            assert!(passed.accept().is_ok());
        }
    }

    #[test]
    fn a_sender_that_stops_early_is_an_error_not_an_empty_handover() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let error = receive(&b).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
