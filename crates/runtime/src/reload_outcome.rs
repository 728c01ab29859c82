//! What a reload did: the answer `POST /reload` waits for, what `/status` shows of the
//! last attempt, and, for a rejected one, whether the same config may apply later.

/// What a reload did.
#[derive(Clone, Debug)]
pub enum ReloadOutcome {
    /// The new config serves.
    Applied {
        /// Its generation.
        generation: u64,
        /// What changed (`diff`), empty if nothing did.
        changes: Vec<String>,
    },
    /// The running config keeps serving.
    Rejected(Vec<ReloadError>),
}

/// One reason a reload was rejected.
#[derive(Clone, Debug)]
pub struct ReloadError {
    /// YAML path; empty for the file as a whole.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line, where known.
    pub line: Option<usize>,
}

impl ReloadError {
    /// An error at YAML path `path` (empty: the file as a whole), with no line.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            line: None,
        }
    }
}

/// A rejected reload: its errors, and whether the same config may apply later.
#[derive(Debug)]
pub struct Rejection {
    /// Every reason, in the order found.
    pub errors: Vec<ReloadError>,
    /// Why the same bytes may apply later, if they may: the caller may retry them.
    pub transient: Option<Transient>,
}

impl Rejection {
    /// A rejection that only a change to the config can clear.
    pub fn permanent(errors: Vec<ReloadError>) -> Self {
        Self {
            errors,
            transient: None,
        }
    }
}

/// A failure that can clear without a change to the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transient {
    /// A listener could not be bound (its port still taken). Not logged by the reload
    /// core: the caller logs it with its retry.
    Bind,
    /// A backend's host name did not resolve; each error is logged already.
    Lookup,
}
