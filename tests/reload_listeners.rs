//! Listener changes applied live by a reload: an added listener serves at once, a
//! removed one refuses new connections and drains the ones it has, a moved one is
//! both, unchanged ones keep their socket, and a listener that cannot be bound leaves
//! the running config untouched.

use std::fmt::Write as _;
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};

use sluicegate_testkit::{
    Backend, Conn, WAIT, eventually, eventually_async, get, init_tracing, start_proxy, try_get,
};
use tokio::net::TcpStream;

/// A config whose listeners `(name, address, cluster)` route everything to one
/// cluster each, with clusters `(name, backend)` and this drain timeout.
fn config(
    drain_timeout: &str,
    listeners: &[(&str, &str, &str)],
    clusters: &[(&str, &Backend)],
) -> String {
    let mut yaml = format!("drain_timeout: {drain_timeout}\nlisteners:\n");
    for (name, address, cluster) in listeners {
        let _ = write!(
            yaml,
            "  {name}:\n    address: {address}\n    routes:\n      - cluster: {cluster}\n"
        );
    }
    yaml.push_str("clusters:\n");
    for (name, backend) in clusters {
        let _ = write!(
            yaml,
            "  {name}:\n    backends: [{{ address: \"{}\" }}]\n",
            backend.addr()
        );
    }
    yaml
}

/// Waits until connecting to `addr` is refused.
async fn refused(addr: SocketAddr) -> bool {
    eventually_async(WAIT, || async move {
        matches!(TcpStream::connect(addr).await, Err(e) if e.kind() == ErrorKind::ConnectionRefused)
    })
    .await
}

/// A local port nothing listens on: bound on port 0, read, released.
fn free_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind a probe socket: {e}"));
    probe
        .local_addr()
        .unwrap_or_else(|e| panic!("probe socket has no address: {e}"))
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_listener_serves_and_the_existing_one_keeps_its_socket() {
    init_tracing();
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let clusters = [("a", &a), ("b", &b)];
    let proxy = start_proxy(&config("10s", &[("main", "127.0.0.1:0", "a")], &clusters)).await;
    let main = proxy.listener("main");
    let mut kept = Conn::open(main).await.expect("connect to main");
    assert_eq!(kept.get("/", &[]).await.2, "a");

    let both = [("main", "127.0.0.1:0", "a"), ("extra", "127.0.0.1:0", "b")];
    proxy.apply(&config("10s", &both, &clusters)).await;

    let extra = proxy.listener_now("extra");
    let (status, _, body) = get(extra, "/", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "b"));
    // `main` at 127.0.0.1:0 is the same listener: same socket, same connection.
    assert_eq!(proxy.listener_now("main"), main);
    let (status, _, body) = kept.get("/", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "a"));
    assert!(
        !kept.is_closed(),
        "the kept-alive connection to main was closed"
    );
    assert_eq!(get(main, "/", &[]).await.2, "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_listener_refuses_connections_and_the_other_still_serves() {
    init_tracing();
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let clusters = [("a", &a), ("b", &b)];
    let both = [("main", "127.0.0.1:0", "a"), ("extra", "127.0.0.1:0", "b")];
    let proxy = start_proxy(&config("10s", &both, &clusters)).await;
    let (main, extra) = (proxy.listener("main"), proxy.listener("extra"));
    assert_eq!(get(extra, "/", &[]).await.2, "b");
    let mut idle = Conn::open(extra).await.expect("connect to extra");
    assert_eq!(idle.get("/", &[]).await.2, "b");

    proxy
        .apply(&config("10s", &[("main", "127.0.0.1:0", "a")], &clusters))
        .await;

    assert!(refused(extra).await, "the removed listener still accepts");
    let closed = eventually(WAIT, || idle.is_closed()).await;
    assert!(
        closed,
        "the removed listener's idle connection was not closed"
    );
    let (status, _, body) = get(main, "/", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_on_a_removed_listener_completes() {
    init_tracing();
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let clusters = [("a", &a), ("b", &b)];
    let both = [("main", "127.0.0.1:0", "a"), ("extra", "127.0.0.1:0", "b")];
    let proxy = start_proxy(&config("10s", &both, &clusters)).await;
    let extra = proxy.listener("extra");
    let slow = tokio::spawn(async move { get(extra, "/slow?ms=1500", &[]).await });
    assert!(
        eventually(WAIT, || b.requests() == 1).await,
        "the slow request never arrived"
    );

    // The removed listener routed to `b`; the new config does not even have it.
    proxy
        .apply(&config(
            "10s",
            &[("main", "127.0.0.1:0", "a")],
            &[("a", &a)],
        ))
        .await;
    assert!(refused(extra).await, "the removed listener still accepts");
    assert!(
        !slow.is_finished(),
        "the slow request finished before the removal was checked"
    );

    let (status, _, body) = slow.await.expect("the slow request's task");
    assert_eq!((status.as_u16(), body.as_str()), (200, "b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_listener_closes_what_outlasts_the_drain_timeout() {
    init_tracing();
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let clusters = [("a", &a), ("b", &b)];
    let both = [("main", "127.0.0.1:0", "a"), ("extra", "127.0.0.1:0", "b")];
    let proxy = start_proxy(&config("300ms", &both, &clusters)).await;
    let extra = proxy.listener("extra");
    // The backend would answer after 5 s, well within WAIT: a 200 would mean the
    // proxy waited for it instead of closing the connection at the drain timeout.
    let slow = tokio::spawn(async move { try_get(extra, "/slow?ms=5000", &[]).await });
    assert!(
        eventually(WAIT, || b.requests() == 1).await,
        "the slow request never arrived"
    );

    proxy
        .apply(&config("300ms", &[("main", "127.0.0.1:0", "a")], &clusters))
        .await;
    let result = slow.await.expect("the slow request's task");
    assert!(result.is_err(), "the request was not cut off: {result:?}");
    assert_eq!(get(proxy.listener("main"), "/", &[]).await.2, "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_listener_leaves_its_old_address_and_serves_on_the_new_one() {
    init_tracing();
    let a = Backend::named("a");
    let clusters = [("a", &a)];
    let proxy = start_proxy(&config("10s", &[("main", "127.0.0.1:0", "a")], &clusters)).await;
    let old = proxy.listener("main");
    assert_eq!(get(old, "/", &[]).await.2, "a");

    let new: SocketAddr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let moved = new.to_string();
    proxy
        .apply(&config("10s", &[("main", &moved, "a")], &clusters))
        .await;

    assert_eq!(proxy.listener_now("main"), new);
    let (status, _, body) = get(new, "/", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "a"));
    assert!(refused(old).await, "the old address still accepts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_cannot_be_bound_changes_nothing() {
    init_tracing();
    let (a, b) = (Backend::named("a"), Backend::named("b"));
    let clusters = [("a", &a), ("b", &b)];
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind the squatter");
    let taken_addr = taken.local_addr().expect("the squatter's address");
    let proxy = start_proxy(&config("10s", &[("main", "127.0.0.1:0", "a")], &clusters)).await;
    let main = proxy.listener("main");
    let generation = proxy.generation();

    // The new config also moves main's route to `b`: none of it may take effect.
    let address = taken_addr.to_string();
    let next = [
        ("main", "127.0.0.1:0", "b"),
        ("extra", address.as_str(), "b"),
    ];
    let error = proxy
        .try_apply(&config("10s", &next, &clusters))
        .await
        .expect_err("binding an address in use succeeded");
    assert!(
        error.contains("extra") && error.contains(&address),
        "the error does not name the listener and address: {error}"
    );

    assert_eq!(proxy.generation(), generation, "a snapshot was published");
    assert_eq!(proxy.listener_now("main"), main);
    let (status, _, body) = get(main, "/", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "a"));
    drop(taken);
}
