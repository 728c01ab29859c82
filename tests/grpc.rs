//! gRPC through the proxy, end to end over HTTP/2 (h2c on both sides): unary,
//! server-streaming and bidirectional calls with their trailers, `grpc-timeout`
//! passed on, `TE: trailers` kept, and the proxy's own errors in gRPC form.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use http_body_util::Full;
use hyper::body::Incoming;
use sluicegate_testkit::client::{ClientBody, body, empty};
use sluicegate_testkit::{
    Backend, H2Conn, WAIT, grpc_message, init_tracing, single_cluster, start_proxy, streaming_body,
    within,
};

fn call(h2: &H2Conn, method: &str, body: ClientBody) -> Request<ClientBody> {
    let mut request = h2.request(Method::POST, method, body);
    let headers = request.headers_mut();
    headers.insert("content-type", "application/grpc".parse().unwrap());
    headers.insert("te", "trailers".parse().unwrap());
    headers.insert("grpc-timeout", "5S".parse().unwrap());
    request
}

/// The whole body and the trailers of a response.
async fn finish(response: Response<Incoming>) -> (Bytes, http::HeaderMap) {
    let collected = within(WAIT, "a gRPC answer", response.into_body().collect())
        .await
        .unwrap();
    let trailers = collected.trailers().cloned().unwrap_or_default();
    (collected.to_bytes(), trailers)
}

async fn proxy_to_grpc() -> (Backend, sluicegate_testkit::Proxy, H2Conn) {
    let backend = Backend::grpc();
    let proxy = start_proxy(&single_cluster(
        &[&backend],
        &[("upstream_protocol", "h2c")],
    ))
    .await;
    let h2 = H2Conn::open(proxy.addr()).await.unwrap();
    (backend, proxy, h2)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_and_server_streaming_calls_carry_their_trailers_and_deadline() {
    init_tracing();
    let (_backend, _proxy, h2) = proxy_to_grpc().await;
    let hello = grpc_message(b"hello");
    let response = h2
        .send(call(
            &h2,
            "/test.Echo/Unary",
            body(Full::new(hello.clone())),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc");
    assert_eq!(response.headers()["x-grpc-timeout"], "5S");
    let (answer, trailers) = finish(response).await;
    assert_eq!(answer, hello);
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["grpc-message"], "ok");

    let response = h2
        .send(call(
            &h2,
            "/test.Echo/ServerStream",
            body(Full::new(hello.clone())),
        ))
        .await
        .unwrap();
    let (answer, trailers) = finish(response).await;
    assert_eq!(answer, [hello.clone(), hello.clone(), hello].concat());
    assert_eq!(trailers["grpc-status"], "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bidirectional_call_streams_both_ways_before_either_side_ends() {
    init_tracing();
    let (_backend, _proxy, h2) = proxy_to_grpc().await;
    let (tx, body) = streaming_body();
    let response = h2.send(call(&h2, "/test.Echo/Bidi", body)).await;
    // The head may come before any message: send the first one while waiting.
    let mut answer = response.unwrap().into_body();
    for word in ["one", "two", "three"] {
        let message = grpc_message(word.as_bytes());
        tx.send(message.clone()).await.unwrap();
        let mut echoed = Vec::new();
        while echoed.len() < message.len() {
            let frame = within(WAIT, "an echoed message", answer.frame()).await;
            let data = frame.unwrap().unwrap().into_data().unwrap();
            echoed.extend_from_slice(&data);
        }
        assert_eq!(echoed, message, "{word}");
    }
    drop(tx);
    let rest = within(WAIT, "the end of the call", answer.collect())
        .await
        .unwrap();
    assert_eq!(rest.trailers().unwrap()["grpc-status"], "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxys_own_errors_answer_grpc_calls_in_grpc_form() {
    init_tracing();
    let refusing = Backend::refusing();
    let proxy = start_proxy(&single_cluster(
        &[&refusing],
        &[("upstream_protocol", "h2c")],
    ))
    .await;
    let h2 = H2Conn::open(proxy.addr()).await.unwrap();
    let response = h2
        .send(call(&h2, "/test.Echo/Unary", empty()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "14");
    let message = response.headers()["grpc-message"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("could not connect"), "{message}");
    // A plain request to the same place still gets the HTTP form.
    let (status, _, text) = h2.get("/plain").await;
    assert_eq!(status, 502, "{text}");
}
