//! Closed-loop load through a proxy: keep-alive clients that count what they get, for
//! tests that change the backends under traffic (kill one, stop one, reload).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http::Method;

use crate::client::{Conn, empty, read_text, request};
use crate::{Proxy, WAIT, eventually, within};

/// What the closed-loop clients of [`Load`] saw.
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failures: std::sync::Mutex<Vec<String>>,
}

/// `n` keep-alive clients sending `GET /` through a proxy in a closed loop until
/// stopped, each counting its 200s and noting every other answer or failed exchange
/// (a client whose connection failed, or was answered `Connection: close`, opens a
/// new one).
pub struct Load {
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    clients: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `n` clients against `proxy`.
    pub fn start(proxy: &Proxy, n: usize) -> Load {
        Self::against(proxy.addr(), n)
    }

    /// Starts `n` clients against the proxy listening on `addr` (a process).
    pub fn against(addr: SocketAddr, n: usize) -> Load {
        let tally = Arc::new(Tally::default());
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..n)
            .map(|_| {
                let (tally, stop) = (tally.clone(), stop.clone());
                tokio::spawn(async move { client_loop(addr, &tally, &stop).await })
            })
            .collect();
        Load {
            tally,
            stop,
            clients,
        }
    }

    /// Requests answered 200 so far.
    pub fn ok(&self) -> usize {
        self.tally.ok.load(Ordering::SeqCst)
    }

    /// Waits until `more` further requests succeeded (or failures were seen).
    pub async fn run_for(&self, more: usize) {
        let target = self.ok() + more;
        let reached = eventually(WAIT * 2, || {
            self.ok() >= target
                || !self
                    .tally
                    .failures
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .is_empty()
        })
        .await;
        assert!(reached, "the clients made no progress");
    }

    /// Stops the clients; panics, listing them, if any request failed.
    pub async fn stop_without_failures(self) {
        let (ok, failures) = self.stop().await;
        assert!(
            failures.is_empty(),
            "{} of {ok}: {failures:?}",
            failures.len()
        );
    }

    /// Stops the clients and returns how many requests succeeded and what failed.
    pub async fn stop(self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        for client in self.clients {
            within(WAIT, "a client to stop", client)
                .await
                .unwrap_or_else(|e| panic!("a client panicked: {e}"));
        }
        let failures = std::mem::take(
            &mut *self
                .tally
                .failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        (self.tally.ok.load(Ordering::SeqCst), failures)
    }
}

async fn client_loop(addr: SocketAddr, tally: &Tally, stop: &AtomicBool) {
    let mut conn = Conn::open(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to the proxy: {e}"));
    while !stop.load(Ordering::SeqCst) {
        let sent = request(Method::GET, addr, "/", &[], empty());
        let answer = match conn.send(sent).await {
            Ok(response) => within(WAIT, "a body", read_text(response)).await,
            Err(e) => Err(e),
        };
        let failure = match answer {
            Ok((status, headers, _)) if status == 200 => {
                tally.ok.fetch_add(1, Ordering::SeqCst);
                // Told so (a drain), the client opens a new connection, as wrk does.
                if headers
                    .get(http::header::CONNECTION)
                    .is_some_and(|v| v == "close")
                {
                    conn = Conn::open(addr)
                        .await
                        .unwrap_or_else(|e| panic!("connect to the proxy: {e}"));
                }
                continue;
            }
            Ok((status, _, body)) => format!("{status}: {body}"),
            Err(e) => {
                conn = Conn::open(addr)
                    .await
                    .unwrap_or_else(|e| panic!("connect to the proxy: {e}"));
                e
            }
        };
        tally
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(failure);
    }
}
