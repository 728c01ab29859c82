//! Host, path, method and header routing through the proxy, first match wins, and
//! the 404 for a request no route matches.

use http::Method;
use sluicegate_testkit::client::{empty, exchange, request};
use sluicegate_testkit::{Backend, Proxy, get, init_tracing, start_proxy};

/// One named backend per cluster; the body of a response names the cluster it came from.
struct Clusters {
    api: Backend,
    wildcard: Backend,
    blue: Backend,
    fallback: Backend,
}

impl Clusters {
    fn new() -> Self {
        Self {
            api: Backend::named("api"),
            wildcard: Backend::named("wildcard"),
            blue: Backend::named("blue"),
            fallback: Backend::named("fallback"),
        }
    }
}

/// Listener `main` has every kind of route and a `/` fallback; listener `strict` only
/// the api route, so anything else is unmatched there.
async fn routing_proxy(c: &Clusters) -> Proxy {
    start_proxy(&format!(
        r#"listeners:
  main:
    address: 127.0.0.1:0
    routes:
      - match: {{ host: api.example.com, path_prefix: /v1 }}
        cluster: api
      - match: {{ host: "*.example.com" }}
        cluster: wildcard
      - match: {{ methods: [POST, PUT], headers: {{ x-team: blue }} }}
        cluster: blue
      - match: {{ path_prefix: / }}
        cluster: fallback
  strict:
    address: 127.0.0.1:0
    routes:
      - match: {{ host: api.example.com, path_prefix: /v1 }}
        cluster: api
clusters:
  api:
    backends: [{{ address: "{}" }}]
  wildcard:
    backends: [{{ address: "{}" }}]
  blue:
    backends: [{{ address: "{}" }}]
  fallback:
    backends: [{{ address: "{}" }}]
"#,
        c.api.addr(),
        c.wildcard.addr(),
        c.blue.addr(),
        c.fallback.addr()
    ))
    .await
}

/// Request header fields, as name and value.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// The cluster that answered `method path` with these headers on `proxy`'s listener.
async fn routed_to(
    proxy: &Proxy,
    listener: &str,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> String {
    let addr = proxy.listener(listener);
    let (status, _, body) = exchange(addr, request(method.clone(), addr, path, headers, empty()))
        .await
        .unwrap_or_else(|e| panic!("{method} {path} {headers:?}: {e}"));
    assert_eq!(status, 200, "{method} {path} {headers:?}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_and_path_prefix_select_the_cluster() {
    init_tracing();
    let clusters = Clusters::new();
    let proxy = routing_proxy(&clusters).await;
    let api = [("host", "api.example.com")];
    let cases: [(&str, Headers, &str); 8] = [
        ("/v1", &api, "api"),
        ("/v1/users?page=2", &api, "api"),
        ("/v1/", &api, "api"),
        // Segment-aware: /v10 is not under /v1, so the wildcard route takes it.
        ("/v10", &api, "wildcard"),
        ("/v2", &api, "wildcard"),
        // Host matching ignores case and port.
        ("/v1/x", &[("host", "API.Example.COM:8080")], "api"),
        ("/anything", &[("host", "www.example.com")], "wildcard"),
        // `*.example.com` needs a label before the suffix.
        ("/v1", &[("host", "example.com")], "fallback"),
    ];
    for (path, headers, expected) in cases {
        let got = routed_to(&proxy, "main", Method::GET, path, headers).await;
        assert_eq!(got, expected, "GET {path} with {headers:?}");
    }
    assert_eq!(clusters.api.requests(), 4);
    assert_eq!(clusters.wildcard.requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_and_headers_must_all_match() {
    init_tracing();
    let clusters = Clusters::new();
    let proxy = routing_proxy(&clusters).await;
    let host = ("host", "other.test");
    let blue = ("x-team", "blue");
    let cases = [
        (Method::POST, vec![host, blue], "blue"),
        (Method::PUT, vec![host, blue], "blue"),
        (Method::GET, vec![host, blue], "fallback"),
        (Method::POST, vec![host, ("x-team", "red")], "fallback"),
        (Method::POST, vec![host], "fallback"),
        // Another value of the same header may come first.
        (Method::POST, vec![host, ("x-team", "red"), blue], "blue"),
    ];
    for (method, headers, expected) in cases {
        let got = routed_to(&proxy, "main", method.clone(), "/x", &headers).await;
        assert_eq!(got, expected, "{method} /x with {headers:?}");
    }
    assert_eq!(clusters.blue.requests(), 3);
    assert_eq!(clusters.fallback.requests(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmatched_request_gets_404_no_route() {
    init_tracing();
    let clusters = Clusters::new();
    let proxy = routing_proxy(&clusters).await;
    let strict = proxy.listener("strict");
    assert_ne!(strict, proxy.listener("main"));

    let got = routed_to(
        &proxy,
        "strict",
        Method::GET,
        "/v1/ok",
        &[("host", "api.example.com")],
    )
    .await;
    assert_eq!(got, "api");
    for (path, host) in [
        ("/v10", "api.example.com"),
        ("/v1", "www.example.com"),
        ("/", "other.test"),
    ] {
        let (status, _, body) = get(strict, path, &[("host", host)]).await;
        assert_eq!(status, 404, "GET {path} on {host}: {body}");
        assert!(body.contains("no route"), "404 body: {body:?}");
    }
    let others =
        clusters.wildcard.requests() + clusters.blue.requests() + clusters.fallback.requests();
    assert_eq!(
        others, 0,
        "the strict listener must not use other listeners' routes"
    );
    assert_eq!(clusters.api.requests(), 1);
}
