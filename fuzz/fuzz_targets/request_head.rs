//! The in-task server's request-head parse on arbitrary bytes
//! (`sluicegate_http::fuzz::request_head` asserts what its callers rely on).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluicegate_http::fuzz::request_head(data));
