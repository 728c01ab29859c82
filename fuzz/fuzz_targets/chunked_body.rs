//! The head guard's chunked-body scan, whole and split (`sluicegate_http::fuzz::chunked_body`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluicegate_http::fuzz::chunked_body(data));
