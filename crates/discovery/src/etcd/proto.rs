//! The few messages of etcd's v3 gRPC API a discovery source uses (`KV.Range`,
//! `Watch.Watch`, `Auth.Authenticate`), declared by hand with prost's derive: the
//! field numbers are those of etcd's `api/etcdserverpb/rpc.proto` and
//! `api/mvccpb/kv.proto` (stable since etcd 3.0; fields this source does not read
//! are left out, and prost skips them on the wire).
//!
//! Why not the etcd-client crate: its build script compiles etcd's protos with
//! `protoc`, which a fresh machine does not have, so `cargo test --workspace` would
//! fail there. These declarations are what its generated code holds for these calls.

use http::uri::PathAndQuery;

/// `/etcdserverpb.KV/Range`.
pub(crate) const RANGE: PathAndQuery = PathAndQuery::from_static("/etcdserverpb.KV/Range");
/// `/etcdserverpb.Watch/Watch`.
pub(crate) const WATCH: PathAndQuery = PathAndQuery::from_static("/etcdserverpb.Watch/Watch");
/// `/etcdserverpb.Auth/Authenticate`.
pub(crate) const AUTHENTICATE: PathAndQuery =
    PathAndQuery::from_static("/etcdserverpb.Auth/Authenticate");

/// `etcdserverpb.ResponseHeader`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ResponseHeader {
    /// The store's revision when the response was made.
    #[prost(int64, tag = "3")]
    pub(crate) revision: i64,
}

/// `etcdserverpb.RangeRequest`: the keys in `[key, range_end)`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) range_end: Vec<u8>,
}

/// `etcdserverpb.RangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RangeResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<ResponseHeader>,
    #[prost(message, repeated, tag = "2")]
    pub(crate) kvs: Vec<KeyValue>,
}

/// `mvccpb.KeyValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct KeyValue {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    #[prost(bytes = "vec", tag = "5")]
    pub(crate) value: Vec<u8>,
}

/// `etcdserverpb.WatchRequest`: a `create_request` or a `progress_request` (fields 1
/// and 3 of its oneof; one is set).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WatchRequest {
    #[prost(message, optional, tag = "1")]
    pub(crate) create_request: Option<WatchCreateRequest>,
    #[prost(message, optional, tag = "3")]
    pub(crate) progress_request: Option<WatchProgressRequest>,
}

/// `etcdserverpb.WatchProgressRequest` (etcd 3.4): asks for a progress response, sent
/// once the watch has caught up with the store.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WatchProgressRequest {}

/// `etcdserverpb.WatchCreateRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WatchCreateRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub(crate) key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub(crate) start_revision: i64,
    /// Empty responses carrying the revision now and then, so a quiet watch still
    /// advances the revision it would resume from.
    #[prost(bool, tag = "4")]
    pub(crate) progress_notify: bool,
}

/// `etcdserverpb.WatchResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WatchResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) header: Option<ResponseHeader>,
    #[prost(bool, tag = "3")]
    pub(crate) created: bool,
    #[prost(bool, tag = "4")]
    pub(crate) canceled: bool,
    /// Set when the watch's start revision was compacted away: the watch is
    /// cancelled, and the prefix must be read again.
    #[prost(int64, tag = "5")]
    pub(crate) compact_revision: i64,
    #[prost(string, tag = "6")]
    pub(crate) cancel_reason: String,
    #[prost(message, repeated, tag = "11")]
    pub(crate) events: Vec<Event>,
}

/// `mvccpb.Event`: a put (type 0) or a delete (type 1) of one key.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Event {
    #[prost(int32, tag = "1")]
    pub(crate) kind: i32,
    #[prost(message, optional, tag = "2")]
    pub(crate) kv: Option<KeyValue>,
}

/// `mvccpb.Event.EventType.DELETE`.
pub(crate) const DELETE: i32 = 1;

/// `etcdserverpb.AuthenticateRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AuthenticateRequest {
    #[prost(string, tag = "1")]
    pub(crate) name: String,
    #[prost(string, tag = "2")]
    pub(crate) password: String,
}

/// `etcdserverpb.AuthenticateResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AuthenticateResponse {
    #[prost(string, tag = "2")]
    pub(crate) token: String,
}

/// The end of the range of every key that starts with `prefix` (etcd's
/// `GetPrefixRangeEnd`): the prefix with its last byte below 0xff incremented and what
/// follows dropped; `\0` (every key) when it is all 0xff.
pub(crate) fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn the_range_of_a_prefix_ends_past_its_last_key() {
        assert_eq!(prefix_end(b"/services/a/"), b"/services/a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
    }

    #[test]
    fn messages_use_etcds_field_numbers() {
        // RangeRequest{key: "a", range_end: "b"}: field 1 and 2, length-delimited.
        let request = RangeRequest {
            key: b"a".to_vec(),
            range_end: b"b".to_vec(),
        };
        assert_eq!(request.encode_to_vec(), [0x0a, 1, b'a', 0x12, 1, b'b']);
        // WatchResponse{header{revision: 7}, events[{DELETE, kv{key: "k"}}]}.
        let wire = [0x0a, 2, 0x18, 7, 0x5a, 7, 0x08, 1, 0x12, 3, 0x0a, 1, b'k'];
        let response = WatchResponse::decode(&wire[..]).expect("a valid response");
        assert_eq!(response.header.map(|h| h.revision), Some(7));
        assert_eq!(response.events[0].kind, DELETE);
        assert_eq!(
            response.events[0].kv.as_ref().map(|kv| kv.key.clone()),
            Some(b"k".to_vec())
        );
    }
}
