//! A second measuring stick beside the floor (`floor.rs`): the same forwarder, but
//! the upstream side is an HTTP/1.1 client written into the client connection's own
//! task (httparse, one read buffer) instead of hyper's client, whose connection runs
//! as a task of its own and takes each request over a channel and answers over a
//! oneshot. The distance from `floor` to here is what hyper's client costs per
//! request on this stack: the figure that says whether an in-task upstream client in
//! sluicegate would pay (`benches/instructions.sh --direct`).
//!
//! One current-thread runtime; each client connection keeps one keep-alive
//! connection per backend, round-robin. It reads only `Content-Length` responses (the
//! bench backend's) and answers 502 on anything else: it is a measuring stick, not a
//! proxy, and must not grow features.
//!
//! Usage: `floor_direct LISTEN BACKEND...`.

use std::cell::{Cell, RefCell};
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Failure = Box<dyn std::error::Error + Send + Sync>;
/// A parsed response head and the length of the body that follows it.
type Parsed = (Response<Full<Bytes>>, usize);

/// Most response header fields read (the bench backend sends about eight).
const MAX_FIELDS: usize = 32;

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: floor_direct LISTEN BACKEND...";
    let listen: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let backends: Vec<SocketAddr> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    if backends.is_empty() {
        return Err(usage.into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, serve(listen, Rc::new(backends)))
}

async fn serve(listen: SocketAddr, backends: Rc<Vec<SocketAddr>>) -> Result<(), Failure> {
    let listener = TcpListener::bind(listen).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let conn = Rc::new(Client {
            backends: backends.clone(),
            conns: RefCell::new(backends.iter().map(|_| None).collect()),
            next: Cell::new(0),
        });
        tokio::task::spawn_local(async move {
            let service = hyper::service::service_fn(move |req| conn.clone().forward(req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One keep-alive backend connection and its read buffer.
struct Upstream {
    stream: TcpStream,
    read: BytesMut,
    head: Vec<u8>,
}

/// One client connection's backend connections, one per backend.
struct Client {
    backends: Rc<Vec<SocketAddr>>,
    conns: RefCell<Vec<Option<Upstream>>>,
    next: Cell<usize>,
}

impl Client {
    async fn forward(
        self: Rc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, Failure> {
        let i = self.next.get() % self.backends.len();
        self.next.set(i + 1);
        let taken = self.conns.borrow_mut()[i].take();
        let mut up = match taken {
            Some(up) => up,
            None => connect(self.backends[i]).await?,
        };
        let response = exchange(&mut up, &req).await?;
        self.conns.borrow_mut()[i] = Some(up);
        Ok(response)
    }
}

async fn connect(addr: SocketAddr) -> io::Result<Upstream> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(Upstream {
        stream,
        read: BytesMut::with_capacity(8192),
        head: Vec::with_capacity(1024),
    })
}

/// Writes the request head (bodies are not forwarded: the bench sends GETs), then
/// reads one response with a `Content-Length` body.
async fn exchange(
    up: &mut Upstream,
    req: &Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Failure> {
    up.head.clear();
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    write!(up.head, "{} {} HTTP/1.1\r\n", req.method(), target)?;
    for (name, value) in req.headers() {
        up.head.extend_from_slice(name.as_str().as_bytes());
        up.head.extend_from_slice(b": ");
        up.head.extend_from_slice(value.as_bytes());
        up.head.extend_from_slice(b"\r\n");
    }
    up.head.extend_from_slice(b"\r\n");
    up.stream.write_all(&up.head).await?;
    loop {
        if let Some(parsed) = parse(&mut up.read)? {
            let (mut response, length) = parsed;
            while up.read.len() < length {
                if up.stream.read_buf(&mut up.read).await? == 0 {
                    return Err("backend closed mid-body".into());
                }
            }
            *response.body_mut() = Full::new(up.read.split_to(length).freeze());
            return Ok(response);
        }
        if up.stream.read_buf(&mut up.read).await? == 0 {
            return Err("backend closed before a response".into());
        }
    }
}

/// A complete response head at the front of `read` (taken off it) and its body
/// length; `None` while it is incomplete.
fn parse(read: &mut BytesMut) -> Result<Option<Parsed>, Failure> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
    let mut parsed = httparse::Response::new(&mut fields);
    let len = match parsed.parse(read)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let status = StatusCode::from_u16(parsed.code.unwrap_or(502))?;
    // Where each field lies in the head, so the head can be taken off the buffer
    // and its values shared (no copy) once the parse lets go of it.
    let base = read.as_ptr() as usize;
    let mut spans = [(0usize, 0usize, 0usize, 0usize); MAX_FIELDS];
    let count = parsed.headers.len();
    for (span, field) in spans.iter_mut().zip(parsed.headers.iter()) {
        let name = field.name.as_ptr() as usize - base;
        let value = field.value.as_ptr() as usize - base;
        *span = (
            name,
            name + field.name.len(),
            value,
            value + field.value.len(),
        );
    }
    let head = read.split_to(len).freeze();
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    let mut length = None;
    for &(n0, n1, v0, v1) in &spans[..count] {
        let (name, value) = (&head[n0..n1], head.slice(v0..v1));
        if name.eq_ignore_ascii_case(b"content-length") {
            length = std::str::from_utf8(&value)
                .ok()
                .and_then(|v| v.parse().ok());
        }
        let name = hyper::header::HeaderName::from_bytes(name)?;
        let value = hyper::header::HeaderValue::from_maybe_shared(value)?;
        response.headers_mut().append(name, value);
    }
    let length = length.ok_or("no Content-Length")?;
    Ok(Some((response, length)))
}
