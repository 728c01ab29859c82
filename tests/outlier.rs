//! The outlier detector over real sockets: it ejects a failing backend and readmits
//! it, never ejects more than `max_ejected_percent`, and a client that aborts its
//! upload does not get the backend ejected.
//!
//! Checks run every 100–200 ms so that a state change takes a fraction of a second;
//! every wait is bounded by [`WAIT`](sluicegate_testkit::WAIT), and time bounds carry a generous slack for busy
//! two-core machines (the helpers are in `sluicegate_tests::support::health`).

use std::time::{Duration, Instant};

use sluicegate_testkit::{
    Backend, BackendState, WAIT, eventually, get, init_tracing, single_cluster, start_proxy, within,
};
use sluicegate_tests::support::health::{APP, SLACK, until_served_by, until_state};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlier_ejects_a_failing_backend_then_readmits_it() {
    init_tracing();
    let (bad, switch) = Backend::switchable("bad");
    let good = Backend::named("good");
    switch.set_status(500);
    let keys = [(
        "outlier",
        "{consecutive_failures: 3, base_ejection: 1s, max_ejection: 10s, max_ejected_percent: 50}",
    )];
    let proxy = start_proxy(&single_cluster(&[&bad, &good], &keys)).await;

    // The third 500 in a row ejects it, before that answer reaches the client.
    let mut failures = 0;
    for _ in 0..20 {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        match body.as_str() {
            "bad" => {
                assert_eq!(status, 500);
                failures += 1;
            }
            _ => assert_eq!((status.as_u16(), body.as_str()), (200, "good")),
        }
        if proxy.backend_state(APP, bad.addr()) == BackendState::Ejected {
            break;
        }
    }
    assert_eq!(proxy.backend_state(APP, bad.addr()), BackendState::Ejected);
    assert_eq!(failures, 3, "ejected after {failures} failures");
    let ejected = Instant::now();
    switch.set_status(200);

    // While ejected it gets nothing, though it would answer 200 now.
    let served = bad.served();
    let mut during = 0;
    for _ in 0..10 {
        let (status, _, body) = get(proxy.addr(), "/", &[]).await;
        if proxy.backend_state(APP, bad.addr()) != BackendState::Ejected {
            break;
        }
        assert_eq!((status.as_u16(), body.as_str()), (200, "good"));
        during += 1;
    }
    assert!(during > 0, "readmitted before any request was sent");
    assert_eq!(bad.served(), served, "an ejected backend got traffic");

    until_state(&proxy, bad.addr(), BackendState::Up).await;
    let took = ejected.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "readmitted after {took:?}"
    );
    assert!(
        took <= Duration::from_secs(1) + SLACK,
        "readmitted after {took:?}"
    );
    until_served_by(&proxy, "bad").await;
    let snapshot = proxy.snapshot();
    let (_, backend) = snapshot.cluster(APP).unwrap().backend(bad.addr()).unwrap();
    assert_eq!(backend.health().ejections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlier_never_ejects_more_than_max_ejected_percent() {
    init_tracing();
    let backends: Vec<_> = ["x", "y", "z"]
        .map(Backend::switchable)
        .into_iter()
        .collect();
    for (_, switch) in &backends {
        switch.set_status(500);
    }
    let keys = [(
        "outlier",
        "{consecutive_failures: 2, base_ejection: 30s, max_ejected_percent: 50}",
    )];
    let refs: Vec<&Backend> = backends.iter().map(|(b, _)| b).collect();
    let proxy = start_proxy(&single_cluster(&refs, &keys)).await;
    for _ in 0..30 {
        let (status, _, _) = get(proxy.addr(), "/", &[]).await;
        assert_eq!(status, 500);
    }
    let states: Vec<BackendState> = refs
        .iter()
        .map(|b| proxy.backend_state(APP, b.addr()))
        .collect();
    let ejected = states
        .iter()
        .filter(|s| **s == BackendState::Ejected)
        .count();
    assert_eq!(
        ejected, 1,
        "1 of 3 is within 50%, 2 of 3 are not: {states:?}"
    );
    // The two left in rotation took every later failure.
    assert!(
        refs.iter()
            .filter(|b| proxy.backend_state(APP, b.addr()) == BackendState::Up)
            .all(|b| b.served() >= 10)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_aborts_its_upload_does_not_get_the_backend_ejected() {
    use tokio::io::AsyncWriteExt;
    init_tracing();
    let backend = Backend::sink();
    let proxy = start_proxy(&single_cluster(
        &[&backend],
        &[
            (
                "outlier",
                "{consecutive_failures: 1, base_ejection: 1h, max_ejected_percent: 100}",
            ),
            ("retries", "{attempts: 2}"),
        ],
    ))
    .await;
    for sent in 1..=3 {
        let mut stream = within(
            WAIT,
            "connecting",
            tokio::net::TcpStream::connect(proxy.addr()),
        )
        .await
        .unwrap();
        let head = "POST /upload HTTP/1.1\r\nhost: app\r\ncontent-length: 100000\r\n\r\n";
        within(WAIT, "writing", stream.write_all(head.as_bytes()))
            .await
            .unwrap();
        within(WAIT, "writing", stream.write_all(&[b'x'; 1000]))
            .await
            .unwrap();
        assert!(
            eventually(WAIT, || backend.requests() == sent).await,
            "the upload reached the backend"
        );
        drop(stream);
        let snapshot = proxy.snapshot();
        let cluster = snapshot.cluster(APP).unwrap();
        assert!(
            eventually(WAIT, || cluster.in_flight() == 0).await,
            "the aborted exchange ended"
        );
    }
    assert_eq!(proxy.backend_state(APP, backend.addr()), BackendState::Up);
    let snapshot = proxy.snapshot();
    let (_, failures) = snapshot.cluster(APP).unwrap().backends[0].outcomes();
    assert_eq!(
        failures, 0,
        "the client's abort is not the backend's failure"
    );
    assert_eq!(backend.requests(), 3, "an aborted upload is not retried");
    let (status, _, _) = get(proxy.addr(), "/", &[]).await;
    assert_eq!(status, 200);
}
