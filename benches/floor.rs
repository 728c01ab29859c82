//! The floor of the load benchmark (`benches/load.sh`): the least an HTTP/1.1 proxy
//! built on this stack (tokio, hyper 1) can cost. One current-thread runtime; each
//! client connection keeps one keep-alive connection per backend and sends its
//! requests round-robin over them; no routing, no metrics, no header rewriting, no
//! timeouts. The distance from here to sluicegate is overhead sluicegate owns; from
//! here to nginx is what the stack costs.
//!
//! Usage: `floor LISTEN BACKEND...`, e.g. `floor 127.0.0.1:18095 127.0.0.1:19001`.
//! It must not grow features: it is a measuring stick, not a proxy.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

type Sender = SendRequest<Incoming>;
type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let listen: SocketAddr = args
        .next()
        .ok_or("usage: floor LISTEN BACKEND...")?
        .parse()?;
    let backends: Vec<SocketAddr> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    if backends.is_empty() {
        return Err("usage: floor LISTEN BACKEND...".into());
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
            senders: RefCell::new(backends.iter().map(|_| None).collect()),
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

/// One client connection's keep-alive connections, one per backend.
struct Client {
    backends: Rc<Vec<SocketAddr>>,
    senders: RefCell<Vec<Option<Sender>>>,
    next: Cell<usize>,
}

impl Client {
    async fn forward(
        self: Rc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<Incoming>, Failure> {
        let i = self.next.get() % self.backends.len();
        self.next.set(i + 1);
        let taken = self.senders.borrow_mut()[i].take();
        let mut sender = match taken {
            Some(s) if !s.is_closed() => s,
            _ => self.connect(self.backends[i]).await?,
        };
        sender.ready().await?;
        let response = sender.send_request(req);
        self.senders.borrow_mut()[i] = Some(sender);
        Ok(response.await?)
    }

    async fn connect(&self, addr: SocketAddr) -> Result<Sender, Failure> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::task::spawn_local(conn);
        Ok(sender)
    }
}
