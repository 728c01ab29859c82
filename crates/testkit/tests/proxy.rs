//! The in-process proxy helper: starts from YAML, reports bad configs by their lines,
//! and stops when dropped.

use std::io::ErrorKind;

use sluicegate_testkit::{
    Backend, WAIT, eventually_async, get, init_tracing, single_cluster, start_proxy,
};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_and_stops_when_dropped() {
    init_tracing();
    let backend = Backend::named("app");
    let proxy = start_proxy(&single_cluster(&[&backend], &[])).await;
    let addr = proxy.addr();
    assert_eq!(proxy.listener("main"), addr);
    let (status, _, body) = get(addr, "/", &[]).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "app"));

    drop(proxy);
    let refused = eventually_async(WAIT, || async move {
        matches!(TcpStream::connect(addr).await, Err(e) if e.kind() == ErrorKind::ConnectionRefused)
    });
    assert!(refused.await, "the dropped proxy still accepts connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "clusters.app.backends: a cluster needs at least one backend")]
async fn invalid_config_panics_with_its_error_lines() {
    start_proxy(&single_cluster(&[], &[])).await;
}
