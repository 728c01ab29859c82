//! What a reload did: the answer `POST /reload` waits for, and what `/status` shows of
//! the last attempt.

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
