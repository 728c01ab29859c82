//! HTTP/2 to backends (`upstream_protocol: h2c`): requests from HTTP/1 and HTTP/2
//! clients go as streams, a connection is shared up to the backend's stream limit and
//! another one opens when it is full, and no stream past the limit is refused.

use std::time::Duration;

use sluicegate_testkit::{
    Backend, Echoed, H2Conn, WAIT, get, init_tracing, single_cluster, start_proxy, within,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_and_h2_clients_reach_an_h2c_backend_as_http2() {
    init_tracing();
    let backend = Backend::h2_echo(None, Duration::ZERO);
    let proxy = start_proxy(&single_cluster(
        &[&backend],
        &[("upstream_protocol", "h2c")],
    ))
    .await;
    let (status, _, text) = get(proxy.addr(), "/from/h1?x=1", &[("host", "api.test")]).await;
    assert_eq!(status, 200, "{text}");
    let echoed = Echoed::parse(&text);
    assert_eq!(echoed.request_line, "GET /from/h1?x=1 HTTP/2.0");
    assert!(echoed.all("host").is_empty(), "{:?}", echoed.headers);
    assert_eq!(echoed.one("x-forwarded-host"), "api.test");
    let h2 = H2Conn::open(proxy.addr()).await.unwrap();
    let (status, _, text) = h2.get("/from/h2").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(Echoed::parse(&text).request_line, "GET /from/h2 HTTP/2.0");
    assert_eq!(backend.accepts(), 1, "both requests share one connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_connection_opens_another_and_no_stream_is_refused() {
    init_tracing();
    // Ten streams per connection, each answer held 200 ms: 100 requests at once need
    // ten connections.
    let backend = Backend::h2_echo(Some(10), Duration::from_millis(200));
    let proxy = start_proxy(&single_cluster(
        &[&backend],
        &[("upstream_protocol", "h2c")],
    ))
    .await;
    let h2 = H2Conn::open(proxy.addr()).await.unwrap();
    // One request first, so the backend's SETTINGS are known before the burst.
    assert_eq!(h2.get("/warm").await.0, 200);
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..100 {
        let h2 = h2.clone();
        requests.spawn(async move { (i, h2.get(&format!("/r/{i}")).await) });
    }
    let answers = within(WAIT, "100 requests", requests.join_all()).await;
    for (i, (status, _, text)) in answers {
        assert_eq!(status, 200, "request {i}: {text}");
    }
    assert_eq!(backend.requests(), 101);
    // At least ten connections (the limit was honoured); far fewer than one per
    // request (they were shared). A connection opened during the burst carries one
    // stream until the backend's SETTINGS arrive, so a busy machine opens some more.
    let accepts = backend.accepts();
    assert!(
        (10..=50).contains(&accepts),
        "100 concurrent streams at 10 per connection took {accepts} connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_backend_recycles_with_goaway_fail_no_request() {
    init_tracing();
    // Every backend connection takes ten requests, then GOAWAY.
    let backend = Backend::h2_goaway(10);
    let proxy = start_proxy(&single_cluster(
        &[&backend],
        &[("upstream_protocol", "h2c")],
    ))
    .await;
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..4 {
        let addr = proxy.addr();
        clients.spawn(async move {
            for i in 0..50 {
                let (status, _, text) = get(addr, &format!("/{c}/{i}"), &[]).await;
                assert_eq!(status, 200, "client {c} request {i}: {text}");
            }
        });
    }
    within(WAIT, "200 requests", clients.join_all()).await;
    assert_eq!(backend.requests(), 200);
    // Ten requests each, a few more when some were in flight at the GOAWAY.
    assert!(backend.accepts() >= 10, "{} connections", backend.accepts());
}
