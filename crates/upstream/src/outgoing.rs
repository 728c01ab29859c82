//! A request on its way to a backend: the request as rewritten for it, and beside its
//! header map the fields the proxy adds ([`AddedFields`]). What the pools take and,
//! when it can go elsewhere, give back.
//!
//! Why beside the request rather than in its extensions: an extension costs a boxed
//! map allocated, grown and freed with every request (~600 instructions a request
//! under callgrind, with the vector's own cost left out), for one value every request
//! has.

use std::net::SocketAddr;

use http::Request;

use crate::added_fields::AddedFields;

/// The client a request is sent for, as a PROXY protocol header names it: its address
/// and the address it connected to. A cluster that sends the header keeps each
/// client's connections apart (see `pool.rs`).
pub type ClientKey = (SocketAddr, SocketAddr);

/// A request for a backend, with the fields added to its head.
#[derive(Debug)]
pub struct Outgoing<B> {
    /// The request, its head rewritten for the backend.
    pub request: Request<B>,
    /// Written after the fields of `request`'s map.
    pub added: AddedFields,
    /// Its client, for a cluster that sends the PROXY protocol; `None` otherwise.
    /// Boxed: only such clusters' requests carry one.
    pub client: Option<Box<ClientKey>>,
}

impl<B> Outgoing<B> {
    /// `request` with `added` to write after its own fields.
    pub fn new(request: Request<B>, added: AddedFields) -> Self {
        Self {
            request,
            added,
            client: None,
        }
    }

    /// `request` with nothing added.
    pub fn plain(request: Request<B>) -> Self {
        Self::new(request, AddedFields::default())
    }

    /// A request a client hands back unsent after [`Self::merged`]: its added fields
    /// are in its map already.
    pub(crate) fn handed_back(request: Request<B>) -> Box<Self> {
        Box::new(Self::plain(request))
    }

    /// The request with the added fields moved into its map, for a client that writes
    /// only the map (hyper's).
    pub fn merged(self) -> Request<B> {
        let Self {
            mut request, added, ..
        } = self;
        added.append_to(request.headers_mut());
        request
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http::{HeaderName, HeaderValue};

    #[test]
    fn a_merged_request_carries_the_added_fields_after_its_own() {
        let request = Request::get("/").header("via", "1.1 a").body(()).unwrap();
        let mut added = AddedFields::with_capacity(1);
        added.push(
            HeaderName::from_static("via"),
            HeaderValue::from_static("1.1 sluicegate"),
        );
        let merged = Outgoing::new(request, added).merged();
        let via: Vec<_> = merged.headers().get_all("via").iter().collect();
        assert_eq!(via, ["1.1 a", "1.1 sluicegate"]);
        let plain = Outgoing::plain(Request::get("/").body(()).unwrap()).merged();
        assert!(plain.headers().is_empty());
    }
}
