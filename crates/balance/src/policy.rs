//! The policy trait and helpers shared by policies.

use sluicegate_core::{EndpointSet, PickKey};

/// Chooses a backend for one request (L7) or connection (L4).
pub trait Policy: Send + Sync + std::fmt::Debug {
    /// Index of the chosen backend, or `None` only when no backend is eligible.
    ///
    /// Must not lock, await or allocate, and must probe at most `set.len()` backends
    /// beyond its first choice.
    fn pick(&self, key: &PickKey, set: &impl EndpointSet) -> Option<usize>;
}

/// The first eligible backend at `start` or after it (wrapping), in at most `len()` probes.
pub fn probe_from(start: usize, set: &impl EndpointSet) -> Option<usize> {
    let len = set.len();
    (0..len)
        .map(|step| (start + step) % len)
        .find(|&i| set.is_eligible(i))
}
