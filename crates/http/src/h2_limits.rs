//! The HTTP/2 server's limits against hostile clients, set explicitly rather than
//! left to hyper's and h2's defaults, each with the attack it bounds:
//! - [`MAX_CONCURRENT_STREAMS`]: streams open at once (and so requests in flight)
//!   per connection;
//! - [`MAX_PENDING_ACCEPT_RESET_STREAMS`]: streams a client opened and reset before
//!   the server took them (rapid reset, CVE-2023-44487): past it the connection gets
//!   GOAWAY (`ENHANCE_YOUR_CALM`);
//! - [`MAX_LOCAL_ERROR_RESET_STREAMS`]: streams the server had to reset because the
//!   client broke a rule (MadeYouReset, CVE-2025-8671): past it, GOAWAY;
//! - [`MAX_HEADER_LIST_SIZE`]: the decoded size of a request's header list, however
//!   many CONTINUATION frames carry it and however well HPACK compressed it (the
//!   CONTINUATION flood and HPACK bombs): the HTTP/1 head limit, so a request does
//!   not pass on one protocol what the other refuses.
//!
//! PING and SETTINGS floods (CVE-2019-9512, 9515) are bounded inside h2, which keeps
//! one pending PONG and one pending SETTINGS acknowledgement per connection however
//! many come; floods of empty frames are not bounded by anything here yet. Each limit
//! is tested with the flood it bounds, frame by frame, in `tests/h2_floods.rs`.

use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::head_check::MAX_HEAD;

/// Streams one HTTP/2 client may have open at once: the RFC 9113 §6.5.2 recommended
/// minimum, as nginx (`http2_max_concurrent_streams` 128) and Envoy (100) bound it.
pub(crate) const MAX_CONCURRENT_STREAMS: u32 = 100;
/// h2's own default, the value hyper and the h2 crate chose after CVE-2023-44487.
const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// hyper's default since the MadeYouReset fix.
const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;
/// The HTTP/1 head limit (64 KiB); hyper's default is 16 KiB.
const MAX_HEADER_LIST_SIZE: u32 = MAX_HEAD as u32;
/// hyper's HTTP/2 server with these limits.
pub(crate) fn builder() -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_pending_accept_reset_streams(MAX_PENDING_ACCEPT_RESET_STREAMS)
        .max_local_error_reset_streams(MAX_LOCAL_ERROR_RESET_STREAMS)
        .max_header_list_size(MAX_HEADER_LIST_SIZE);
    builder
}
