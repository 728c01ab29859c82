//! Backends registered in etcd (v3 API): every key under a prefix is one backend, read
//! once, then watched (`source.rs`, with its lifecycle), over tonic's gRPC client
//! (`client.rs`) and etcd's messages declared by hand (`proto.rs`); each key's value
//! read as a backend (`value.rs`); the keys known and the revision seen (`watched.rs`).

mod client;
mod proto;
mod source;
mod value;
mod watched;

pub(crate) use source::run;
