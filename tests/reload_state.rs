//! What a reload keeps: streams in progress, backend state by identity, and a steady
//! stream of requests that never fails while the config changes under it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use sluicegate_testkit::client::{Conn, empty, read_digest, read_text, request};
use sluicegate_testkit::{
    Backend, WAIT, eventually, get, init_tracing, pattern_digest, start_proxy, within,
};

/// One listener `main` routing everything to cluster `app` of `backends` with `policy`.
fn config(policy: &str, backends: &[&Backend]) -> String {
    let mut yaml = format!(
        "listeners:\n  main:\n    address: 127.0.0.1:0\n    routes:\n      - cluster: app\n\
         clusters:\n  app:\n    policy: {policy}\n    backends:\n"
    );
    for b in backends {
        yaml.push_str(&format!("      - address: {}\n", b.addr()));
    }
    yaml
}

/// In-flight count of the backend at `addr` in the live snapshot.
fn in_flight(proxy: &sluicegate_testkit::Proxy, addr: SocketAddr) -> Option<u64> {
    let snapshot = proxy.snapshot();
    let backend = snapshot
        .clusters
        .iter()
        .flat_map(|c| c.backends.iter())
        .find(|b| b.address() == addr)?;
    Some(backend.in_flight())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_download_in_progress_survives_three_reloads() {
    init_tracing();
    let (sink, other) = (Backend::sink(), Backend::named("other"));
    let proxy = start_proxy(&config("round_robin", &[&sink])).await;
    const LEN: u64 = 64 * 1024 * 1024;
    let expected = tokio::task::spawn_blocking(|| pattern_digest(LEN));
    let mut conn = Conn::open(proxy.addr())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let path = format!("/download?bytes={LEN}");
    let response = conn
        .send(request(Method::GET, proxy.addr(), &path, &[], empty()))
        .await
        .unwrap_or_else(|e| panic!("download: {e}"));
    assert_eq!(response.status(), 200);
    // The body is not read yet, so the transfer is held mid-stream by back-pressure
    // while the config changes three times; the last one removes the sink entirely.
    proxy
        .apply(&config("least_connections", &[&sink, &other]))
        .await;
    proxy.apply(&config("random", &[&other, &sink])).await;
    proxy.apply(&config("round_robin", &[&other])).await;
    let digest = within(
        Duration::from_secs(60),
        "the download",
        read_digest(response),
    )
    .await
    .unwrap_or_else(|e| panic!("the download was cut: {e}"));
    assert_eq!(digest, expected.await.unwrap_or_else(|e| panic!("{e}")));
    let (status, _, body) = get(proxy.addr(), "/", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "other"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_backend_keeps_its_in_flight_count_and_its_connections() {
    init_tracing();
    let (kept, added) = (Backend::named("kept"), Backend::named("added"));
    let proxy = start_proxy(&config("round_robin", &[&kept])).await;
    for _ in 0..5 {
        assert_eq!(get(proxy.addr(), "/", &[]).await.2, "kept");
    }
    assert_eq!(
        kept.accepts(),
        1,
        "requests before the reload share one connection"
    );

    let addr = proxy.addr();
    let slow = tokio::spawn(async move { get(addr, "/slow?ms=1500", &[]).await });
    assert!(eventually(WAIT, || in_flight(&proxy, kept.addr()) == Some(1)).await);

    proxy
        .apply(&config("least_connections", &[&kept, &added]))
        .await;
    // The in-flight request is counted in the new snapshot too, so least_connections
    // sends new requests to the idle newcomer while it lasts.
    assert_eq!(in_flight(&proxy, kept.addr()), Some(1));
    assert_eq!(get(proxy.addr(), "/", &[]).await.2, "added");

    let (status, _, body) = slow.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((status.as_u16(), body.as_str()), (200, "kept"));
    assert!(eventually(WAIT, || in_flight(&proxy, kept.addr()) == Some(0)).await);
    // The slow request needed a second connection; after the reload the pool still
    // holds both, so no new connection is opened for the next requests.
    let accepted = kept.accepts();
    for _ in 0..6 {
        get(proxy.addr(), "/", &[]).await;
    }
    assert_eq!(
        kept.accepts(),
        accepted,
        "the reload dropped the kept backend's pool"
    );
}

/// Backend names of the config version `v`: even versions {a, b}, odd ones {c, d}.
fn names_of(version: u64) -> [&'static str; 2] {
    if version.is_multiple_of(2) {
        ["a", "b"]
    } else {
        ["c", "d"]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_never_fail_while_the_config_changes_every_200ms() {
    init_tracing();
    let backends = ["a", "b", "c", "d"].map(Backend::named);
    let [a, b, c, d] = &backends;
    let even = config("round_robin", &[a, b]);
    let odd = config("least_connections", &[c, d]);
    let proxy = Arc::new(start_proxy(&even).await);
    // `live`: the newest version whose apply has returned (so it is published);
    // `begun`: the newest version whose apply has started.
    let (live, begun) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let stop = Arc::new(AtomicBool::new(false));

    let clients: Vec<_> = (0..32)
        .map(|_| {
            let (live, begun, stop) = (live.clone(), begun.clone(), stop.clone());
            let addr = proxy.addr();
            tokio::spawn(async move {
                let mut conn = Conn::open(addr).await.unwrap_or_else(|e| panic!("{e}"));
                let mut served = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let from = live.load(Ordering::SeqCst);
                    let sent = request(Method::GET, addr, "/", &[], empty());
                    let (status, _, name) = match conn.send(sent).await {
                        Ok(response) => read_text(response).await,
                        Err(e) => Err(e),
                    }
                    .unwrap_or_else(|e| panic!("request {served} failed: {e}"));
                    let to = begun.load(Ordering::SeqCst);
                    assert_eq!(status, 200, "request {served}: {name}");
                    assert!(
                        (from..=to).any(|v| names_of(v).contains(&name.as_str())),
                        "{name} is in no config from version {from} to {to}"
                    );
                    served += 1;
                }
                served
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut version = 0;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        version += 1;
        begun.store(version, Ordering::SeqCst);
        proxy
            .apply(if version.is_multiple_of(2) {
                &even
            } else {
                &odd
            })
            .await;
        live.store(version, Ordering::SeqCst);
    }
    stop.store(true, Ordering::SeqCst);
    let mut total = 0;
    for client in clients {
        total += client
            .await
            .unwrap_or_else(|e| panic!("a client failed: {e}"));
    }
    assert!(version >= 20, "only {version} reloads in 10 s");
    assert!(total > 0);
    let used: HashSet<usize> = backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.requests() > 0)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(used.len(), 4, "both backend sets should have served");
}
