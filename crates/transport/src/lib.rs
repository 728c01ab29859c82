//! sluicegate's byte-level helpers, below the protocols: [`Rewound`] (a stream whose
//! first bytes were read ahead and are read again first), [`Activity`] and
//! [`Stamped`] (when a byte last moved, for idle timeouts), the PROXY protocol
//! ([`read_proxy_header`], [`proxy_header`]) and the copy of a layer-4 session
//! ([`CopySession`]).
//!
//! It knows bytes and sockets only: it must not depend on hyper, rustls or the
//! config, nor parse HTTP. Nothing here panics on what a peer sends.

mod activity;
mod copy;
mod direction;
mod proxy_header;
mod quiet;
mod rewound;

pub use activity::{Activity, Stamped};
pub use copy::{Copied, CopyEnd, CopySession};
pub use proxy_header::{
    MAX_HEADER, ProxyHeader, ProxyHeaderError, proxy_header, read_proxy_header,
};
pub use quiet::{LazyQuiet, Quiet};
pub use rewound::Rewound;
