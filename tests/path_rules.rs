//! Routes cannot be bypassed by spelling a path differently: with `/admin` routed to
//! one cluster and everything else to another, every spelling a normalising backend
//! reads as `/admin` goes to the admin cluster, with the normalised path. Raw sockets,
//! echo backends that report what they received.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use sluicegate_testkit::client::raw_exchange;
use sluicegate_testkit::{Backend, Echoed, Proxy, init_tracing, start_proxy};

/// `/admin` → cluster `admin`, the rest → `public`, with the listener lines `extra`.
fn yaml(admin: &Backend, public: &Backend, extra: &str) -> String {
    format!(
        "listeners:\n  main:\n    address: 127.0.0.1:0\n{extra}    routes:\n\
         \x20     - match: {{ path_prefix: /admin }}\n        cluster: admin\n\
         \x20     - cluster: public\n\
         clusters:\n  admin:\n    backends: [{{ address: {} }}]\n  public:\n    backends: [{{ address: {} }}]\n",
        admin.addr(),
        public.addr()
    )
}

/// Sends `GET target`; returns the status, which cluster got it and the request line.
async fn send(
    proxy: &Proxy,
    backends: (&Backend, &Backend),
    target: &str,
) -> (u16, &'static str, String) {
    let before = (backends.0.requests(), backends.1.requests());
    let request = format!("GET {target} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let answer = raw_exchange(proxy.addr(), request.as_bytes()).await;
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let got = match (
        backends.0.requests() - before.0,
        backends.1.requests() - before.1,
    ) {
        (1, 0) => "admin",
        (0, 1) => "public",
        _ => "none",
    };
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let text: String = body.split("\r\n").skip(1).step_by(2).collect();
    (status, got, Echoed::parse(&text).request_line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_denied_path_reaches_its_own_route_normalised() {
    init_tracing();
    let (admin, public) = (Backend::echo(), Backend::echo());
    let proxy = start_proxy(&yaml(&admin, &public, "")).await;
    let cases = [
        ("/admin", "admin", "/admin"),
        ("/public/../admin", "admin", "/admin"),
        ("/public/%2e%2e/admin", "admin", "/admin"),
        ("/public/.%2E/admin?x=1", "admin", "/admin?x=1"),
        ("//admin", "admin", "/admin"),
        ("/%61dmin", "admin", "/admin"),
        ("/./admin/./x", "admin", "/admin/x"),
        ("/a/b/../../admin/", "admin", "/admin/"),
        ("/..", "public", "/"),
        // Encoded slashes are kept by default: not separators, so this is one segment.
        ("/public%2F..%2Fadmin", "public", "/public%2F..%2Fadmin"),
        // One segment `admin%2Fx`, not `/admin`: the catch-all route.
        ("/adm%69n%2fx", "public", "/admin%2Fx"),
    ];
    for (target, cluster, path) in cases {
        let (status, got, line) = send(&proxy, (&admin, &public), target).await;
        assert_eq!((status, got), (200, cluster), "{target}");
        assert_eq!(line, format!("GET {path} HTTP/1.1"), "{target}");
    }
    let (status, got, _) = send(&proxy, (&admin, &public), "/ad%zzmin").await;
    assert_eq!((status, got), (400, "none"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encoded_slashes_can_be_refused_or_decoded_and_merging_turned_off() {
    init_tracing();
    let (admin, public) = (Backend::echo(), Backend::echo());
    let target = "/public%2F..%2Fadmin";
    let rejecting = start_proxy(&yaml(&admin, &public, "    escaped_slashes: reject\n")).await;
    let (status, got, _) = send(&rejecting, (&admin, &public), target).await;
    assert_eq!((status, got), (400, "none"));
    let decoding = start_proxy(&yaml(&admin, &public, "    escaped_slashes: decode\n")).await;
    let (status, got, line) = send(&decoding, (&admin, &public), target).await;
    assert_eq!(
        (status, got, line.as_str()),
        (200, "admin", "GET /admin HTTP/1.1")
    );
    let unmerged = start_proxy(&yaml(&admin, &public, "    merge_slashes: false\n")).await;
    let (status, got, line) = send(&unmerged, (&admin, &public), "//admin").await;
    assert_eq!(
        (status, got, line.as_str()),
        (200, "public", "GET //admin HTTP/1.1")
    );
}
