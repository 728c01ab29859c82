//! HTTP/2 at the frame level, for tests of what a server does with frames no
//! well-behaved client sends (floods, resets, malformed streams): [`RawH2`] writes
//! frames exactly as a test builds them ([`frame`], [`request_block`]) and reads the
//! server's frames back one by one ([`Frame`]). Cleartext with prior knowledge only;
//! HPACK is written with literal fields and never Huffman-coded, and what the server
//! sends is not decoded beyond the frame header (the tests look at frame types,
//! streams and error codes).

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::{WAIT, within};

/// The client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113 §6).
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
    /// PING.
    pub const PING: u8 = 0x6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub mod flag {
    /// END_STREAM (DATA, HEADERS).
    pub const END_STREAM: u8 = 0x1;
    /// ACK (SETTINGS, PING).
    pub const ACK: u8 = 0x1;
    /// END_HEADERS (HEADERS, CONTINUATION).
    pub const END_HEADERS: u8 = 0x4;
}

/// Error codes (RFC 9113 §7).
pub mod code {
    /// PROTOCOL_ERROR.
    pub const PROTOCOL_ERROR: u32 = 0x1;
    /// CANCEL.
    pub const CANCEL: u32 = 0x8;
    /// REFUSED_STREAM.
    pub const REFUSED_STREAM: u32 = 0x7;
    /// ENHANCE_YOUR_CALM.
    pub const ENHANCE_YOUR_CALM: u32 = 0xb;
}

/// One frame as the server sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Its type ([`kind`]).
    pub kind: u8,
    /// Its flags ([`flag`]).
    pub flags: u8,
    /// Its stream (0: the connection).
    pub stream: u32,
    /// Its payload.
    pub payload: Vec<u8>,
}

impl Frame {
    /// The error code of a RST_STREAM or GOAWAY frame.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.kind {
            kind::RST_STREAM => 0,
            kind::GOAWAY => 4,
            _ => return None,
        };
        let bytes = self.payload.get(at..at + 4)?;
        Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// The value of setting `id` in a SETTINGS frame.
    pub fn setting(&self, id: u16) -> Option<u32> {
        if self.kind != kind::SETTINGS {
            return None;
        }
        self.payload.chunks_exact(6).find_map(|s| {
            (u16::from_be_bytes([s[0], s[1]]) == id)
                .then(|| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
        })
    }
}

/// The bytes of one frame.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes();
    let mut out = Vec::with_capacity(9 + payload.len());
    out.extend_from_slice(&len[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A RST_STREAM frame for `stream` with `code`.
pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(kind::RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// An HPACK block for `GET /` on `http` with `:authority: t`, then `extra` fields
/// (names as given: a test may send what HTTP/2 forbids), every one literal.
pub fn request_block(extra: &[(&str, &str)]) -> Vec<u8> {
    // Indexed: :method GET (2), :scheme http (6), :path / (4); then :authority (1)
    // as a literal without indexing, its name indexed.
    let mut block = vec![0x82, 0x86, 0x84, 0x01, 0x01, b't'];
    for (name, value) in extra {
        block.push(0x00);
        literal(&mut block, name.as_bytes());
        literal(&mut block, value.as_bytes());
    }
    block
}

/// An HPACK block of exactly `fields`, in order, every one literal (pseudo-header
/// fields too): for requests whose pseudo-headers a test gets wrong on purpose.
pub fn fields_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        literal(&mut block, name.as_bytes());
        literal(&mut block, value.as_bytes());
    }
    block
}

/// An HPACK string literal (no Huffman coding), its length as a 7-bit prefix integer.
fn literal(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut len = bytes.len();
    if len < 127 {
        out.push(len as u8);
    } else {
        out.push(127);
        len -= 127;
        while len >= 128 {
            out.push((len % 128 + 128) as u8);
            len /= 128;
        }
        out.push(len as u8);
    }
    out.extend_from_slice(bytes);
}

/// A cleartext HTTP/2 connection driven frame by frame.
#[derive(Debug)]
pub struct RawH2 {
    reader: OwnedReadHalf,
    writer: Option<OwnedWriteHalf>,
    /// The server's first SETTINGS frame.
    pub settings: Frame,
}

impl RawH2 {
    /// Connects to `addr`, sends the preface and empty SETTINGS, and reads the
    /// server's SETTINGS (acknowledged, as every later one is). Panics on failure.
    pub async fn open(addr: SocketAddr) -> RawH2 {
        Self::open_with(addr, &[]).await
    }

    /// [`RawH2::open`], its SETTINGS carrying `settings` (identifier, value).
    pub async fn open_with(addr: SocketAddr, settings: &[(u16, u32)]) -> RawH2 {
        let stream = within(WAIT, "an HTTP/2 connection", TcpStream::connect(addr))
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        let (reader, writer) = stream.into_split();
        let mut conn = RawH2 {
            reader,
            writer: Some(writer),
            settings: Frame {
                kind: kind::SETTINGS,
                flags: 0,
                stream: 0,
                payload: Vec::new(),
            },
        };
        let payload: Vec<u8> = settings
            .iter()
            .flat_map(|(id, value)| [&id.to_be_bytes()[..], &value.to_be_bytes()[..]].concat())
            .collect();
        let hello = [PREFACE, &frame(kind::SETTINGS, 0, 0, &payload)].concat();
        conn.send(&hello).await;
        let first = conn.next().await;
        match first {
            Some(settings) if settings.kind == kind::SETTINGS => conn.settings = settings,
            other => panic!("the server did not start with SETTINGS: {other:?}"),
        }
        conn
    }

    /// Writes `bytes`; a write the server refuses (it closed) is ignored: what the
    /// server answered is read with [`RawH2::next`].
    pub async fn send(&mut self, bytes: &[u8]) {
        if let Some(writer) = &mut self.writer
            && within(WAIT, "a write to the server", writer.write_all(bytes))
                .await
                .is_err()
        {
            self.writer = None;
        }
    }

    /// Sends `GET path` (`http`, `:authority: t`, no body) on `stream`.
    pub async fn send_get(&mut self, stream: u32, path: &str) {
        let block = fields_block(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", path),
            (":authority", "t"),
        ]);
        let flags = flag::END_STREAM | flag::END_HEADERS;
        self.send(&frame(kind::HEADERS, flags, stream, &block))
            .await;
    }

    /// Writes `bytes` from a task of its own, so a flood the server stops reading
    /// does not stop this side from reading its answer. Later sends are dropped.
    pub fn flood(&mut self, bytes: Vec<u8>) -> tokio::task::JoinHandle<()> {
        let writer = self.writer.take();
        tokio::spawn(async move {
            if let Some(mut writer) = writer {
                let _ = writer.write_all(&bytes).await;
                // Kept open: the server decides when the connection ends.
                std::future::pending::<()>().await;
            }
        })
    }

    /// The server's next frame (SETTINGS it sent are acknowledged first); `None`
    /// once it closed the connection. Panics if nothing comes within [`WAIT`].
    pub async fn next(&mut self) -> Option<Frame> {
        let frame = within(WAIT, "a frame from the server", self.read_frame()).await?;
        if frame.kind == kind::SETTINGS && frame.flags & flag::ACK == 0 {
            self.send(&self::frame(kind::SETTINGS, flag::ACK, 0, &[]))
                .await;
        }
        Some(frame)
    }

    /// Reads frames until a GOAWAY (returned) or the end of the connection (`None`),
    /// calling `seen` with every other frame.
    pub async fn until_goaway(&mut self, mut seen: impl FnMut(&Frame)) -> Option<Frame> {
        while let Some(frame) = self.next().await {
            if frame.kind == kind::GOAWAY {
                return Some(frame);
            }
            seen(&frame);
        }
        None
    }

    async fn read_frame(&mut self) -> Option<Frame> {
        let mut head = [0u8; 9];
        self.reader.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        self.reader.read_exact(&mut payload).await.ok()?;
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        Some(Frame {
            kind: head[3],
            flags: head[4],
            stream,
            payload,
        })
    }
}
