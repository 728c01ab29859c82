//! The access log as a log shipper reads it: one line per request with the fields of
//! nginx's `combined` and Envoy's default format, in text and in JSON, with request
//! data escaped so no value can break a line; and one line per layer-4 session. Real
//! process, raw sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use sluicegate_testkit::{PROCESS_WAIT, ProcessProxy, free_port, poll, process_config};

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_sluicegate");

/// The body every answer of [`reading_backend`] carries.
const ANSWER: &str = "twelve bytes";

/// A backend that reads each request whole (head and `Content-Length` body) before it
/// answers [`ANSWER`] and closes, so no unread byte turns its close into a reset.
fn reading_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let _ = stream.set_read_timeout(Some(PROCESS_WAIT));
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf) {
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_lowercase();
                let Some((head, body)) = text.split_once("\r\n\r\n") else {
                    continue;
                };
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: ")?.trim().parse().ok())
                    .unwrap_or(0usize);
                if body.len() >= length {
                    break;
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ANSWER}",
                ANSWER.len()
            );
        }
    });
    addr
}

/// A request carrying a quote, a tab and a byte that is not UTF-8 in its user agent.
const REQUEST: &[u8] = b"POST /p?q=1 HTTP/1.1\r\nHost: front.example\r\n\
User-Agent: ua \"quoted\"\tend \xff\r\nReferer: http://ref.example/\r\n\
X-Request-Id: forged\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

/// Starts a proxy with the access log on (`args` after `run -c FILE`), sends
/// [`REQUEST`], and returns the response, the access log line and the backend.
fn one_logged_request(args: &[&str]) -> (String, String, SocketAddr) {
    let backend = reading_backend();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    std::fs::write(
        &path,
        format!("access_log: true\n{}", process_config(listen, backend)),
    )
    .unwrap();
    let proxy = ProcessProxy::start_with(BIN, &path, listen, args);
    let mut stream = TcpStream::connect_timeout(&listen, PROCESS_WAIT).unwrap();
    stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    stream.write_all(REQUEST).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let logged = poll(PROCESS_WAIT, || !proxy.lines("POST").is_empty());
    let lines = proxy.lines("POST");
    assert!(logged && lines.len() == 1, "{:?}", proxy.log());
    (response, lines[0].clone(), backend)
}

/// The value of response header `name` (lower case) in a raw response.
fn response_header<'a>(response: &'a str, name: &str) -> &'a str {
    response
        .lines()
        .find_map(|l| {
            let (n, v) = l.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in {response:?}"))
}

#[test]
fn json_access_lines_carry_every_field() {
    let (response, line, backend) = one_logged_request(&["--log-format", "json"]);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let value: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(value["target"], "access", "{line}");
    assert!(value["timestamp"].is_string(), "{line}");
    let f = &value["fields"];
    let expected = serde_json::json!({
        "peer": "127.0.0.1", "client": "127.0.0.1", "listener": "web",
        "method": "POST", "host": "front.example", "path": "/p?q=1", "version": "HTTP/1.1",
        "status": 200, "upstream_status": 200, "cluster": "app", "backend": backend.to_string(),
        "attempts": 1, "request_bytes": 5, "response_bytes": ANSWER.len(), "complete": true,
        "user_agent": "ua \"quoted\"\tend \u{fffd}", "referer": "http://ref.example/",
    });
    for (key, want) in expected.as_object().unwrap() {
        assert_eq!(&f[key], want, "field {key} in {line}");
    }
    let id = f["request_id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "{line}");
    assert_eq!(response_header(&response, "x-request-id"), id);
    let (head, total) = (
        f["head_ms"].as_f64().unwrap(),
        f["duration_ms"].as_f64().unwrap(),
    );
    assert!(head > 0.0 && total >= head, "{line}");
}

#[test]
fn text_access_lines_quote_request_data() {
    let (_, line, _) = one_logged_request(&[]);
    // One line, with the tab and the quotes escaped inside a quoted value.
    assert!(
        line.contains(r#"user_agent="ua \"quoted\"\tend �""#),
        "{line}"
    );
    assert!(line.contains(r#"path="/p?q=1""#), "{line}");
    assert!(
        line.contains("status=200") && line.contains("response_bytes=12"),
        "{line}"
    );
}

#[test]
fn an_upload_the_client_abandons_is_logged_499_and_counted_as_client_closed() {
    let backend = reading_backend();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let listen = free_port();
    let config = format!("access_log: true\n{}", process_config(listen, backend));
    std::fs::write(&path, config).unwrap();
    let proxy = ProcessProxy::start_with(BIN, &path, listen, &["--log-format", "json"]);
    let mut stream = TcpStream::connect_timeout(&listen, PROCESS_WAIT).unwrap();
    let head = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n";
    stream.write_all(head).unwrap();
    stream.write_all(&[b'x'; 1000]).unwrap();
    // Gone 1,000 bytes into 100,000: nginx logs 499, and so does sluicegate.
    drop(stream);
    let logged = poll(PROCESS_WAIT, || !proxy.lines("/up").is_empty());
    let lines = proxy.lines("/up");
    assert!(logged && lines.len() == 1, "{:?}", proxy.log());
    let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(value["fields"]["status"], 499, "{}", lines[0]);
    // Nobody was left to take the answer: it was not delivered whole.
    assert_eq!(value["fields"]["complete"], false, "{}", lines[0]);
    let series = "sluicegate_errors_total{listener=\"web\",kind=\"client_closed\"} ";
    assert_eq!(proxy.metric(series), 1.0);
    let bad = "sluicegate_errors_total{listener=\"web\",kind=\"bad_request\"} ";
    assert_eq!(proxy.metric(bad), 0.0, "counted as a bad request too");
}

/// A TCP echo backend: each connection's bytes back until its EOF, then a close.
fn echo_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            std::thread::spawn(move || {
                let mut back = stream.try_clone().unwrap();
                let _ = std::io::copy(&mut stream, &mut back);
            });
        }
    });
    addr
}

#[test]
fn a_layer_4_session_is_logged_as_it_ends_and_a_refused_one_with_its_reason() {
    let echo = echo_backend();
    // Bound and let go: nothing listens there, so connecting is refused.
    let dead = free_port();
    let (db, gone) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sluicegate.yaml");
    let config = format!(
        "access_log: true\nlisteners:\n  db:\n    address: {db}\n    protocol: tcp\n    cluster: db\n\
         \x20 gone:\n    address: {gone}\n    protocol: tcp\n    cluster: gone\n\
         clusters:\n  db:\n    backends:\n      - address: {echo}\n\
         \x20 gone:\n    backends:\n      - address: {dead}\n\
         admin:\n  address: 127.0.0.1:0\n"
    );
    std::fs::write(&path, config).unwrap();
    let proxy = ProcessProxy::start_with(BIN, &path, db, &["--log-format", "json"]);
    let mut stream = TcpStream::connect_timeout(&db, PROCESS_WAIT).unwrap();
    stream.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    stream.write_all(b"hello").unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    stream.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"hello");
    let client = stream.local_addr().unwrap().to_string();
    let mut refused = TcpStream::connect_timeout(&gone, PROCESS_WAIT).unwrap();
    refused.set_read_timeout(Some(PROCESS_WAIT)).unwrap();
    let _ = refused.read_to_end(&mut Vec::new());
    let fields = |listener: &str| {
        let tag = format!("\"listener\":\"{listener}\"");
        let access = || -> Vec<String> {
            let lines = proxy.lines("\"target\":\"access\"");
            lines.into_iter().filter(|l| l.contains(&tag)).collect()
        };
        let logged = poll(PROCESS_WAIT, || !access().is_empty());
        let lines = access();
        assert!(logged && lines.len() == 1, "{:?}", proxy.log());
        let value: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(value["target"], "access", "{}", lines[0]);
        value["fields"].clone()
    };
    let session = fields("db");
    let expected = serde_json::json!({
        "client": client, "cluster": "db", "backend": echo.to_string(), "end": "closed",
        "bytes_to_backend": 5, "bytes_to_client": 5, "sni": "",
    });
    for (key, want) in expected.as_object().unwrap() {
        assert_eq!(&session[key], want, "field {key} in {session}");
    }
    assert!(session["duration_ms"].as_f64().unwrap() > 0.0, "{session}");
    let refusal = fields("gone");
    assert_eq!(refusal["end"], "connect_failed", "{refusal}");
    assert_eq!(refusal["cluster"], "gone", "{refusal}");
    assert!(refusal["backend"].is_null(), "{refusal}");
}
