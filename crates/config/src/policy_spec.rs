//! Validated balancing policy of a cluster and its parameters.

/// A balancing policy and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicySpec {
    /// Weighted random.
    Random,
    /// Power of two choices: two weighted-random draws, fewer in-flight per weight wins.
    PowerOfTwo,
    /// Smooth weighted round-robin.
    RoundRobin,
    /// Fewest in-flight requests relative to weight.
    LeastConnections,
    /// Hash of the key onto the weighted backend list.
    IpHash {
        /// What is hashed.
        hash_on: HashOn,
    },
    /// Ketama consistent-hash ring.
    RingHash {
        /// What is hashed.
        hash_on: HashOn,
        /// Ring points per unit of weight.
        points_per_weight: u32,
        /// Bounded loads: percent of the average load a backend may take, if set.
        balance_factor: Option<u32>,
    },
    /// Maglev lookup table.
    Maglev {
        /// What is hashed.
        hash_on: HashOn,
        /// Table size (prime).
        table_size: u32,
        /// Bounded loads: percent of the average load a backend may take, if set.
        balance_factor: Option<u32>,
    },
}

impl PolicySpec {
    /// The names accepted under `policy:`.
    pub const NAMES: &'static [&'static str] = &[
        "random",
        "p2c",
        "round_robin",
        "least_connections",
        "ip_hash",
        "ring_hash",
        "maglev",
    ];

    /// The name written under `policy:`.
    pub fn name(&self) -> &'static str {
        match self {
            PolicySpec::Random => "random",
            PolicySpec::PowerOfTwo => "p2c",
            PolicySpec::RoundRobin => "round_robin",
            PolicySpec::LeastConnections => "least_connections",
            PolicySpec::IpHash { .. } => "ip_hash",
            PolicySpec::RingHash { .. } => "ring_hash",
            PolicySpec::Maglev { .. } => "maglev",
        }
    }

    /// The hash key of a hashing policy; `None` for the others.
    pub fn hash_on(&self) -> Option<&HashOn> {
        match self {
            PolicySpec::IpHash { hash_on }
            | PolicySpec::RingHash { hash_on, .. }
            | PolicySpec::Maglev { hash_on, .. } => Some(hash_on),
            _ => None,
        }
    }
}

/// What a hashing policy hashes. A request without the key gets a weighted random pick.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HashOn {
    /// The client's IP address (the whole address, IPv4 or IPv6).
    #[default]
    SourceIp,
    /// The request path (without the query).
    Path,
    /// The value of this request header (name in lower case).
    Header(String),
    /// The value of this cookie.
    Cookie(String),
    /// The value of this query parameter.
    Query(String),
}
