//! The human status page (`GET /`): server-rendered HTML, no external assets.

use crate::admin::status::Status;

/// The page for `status`.
pub fn render(status: &Status) -> String {
    format!(
        "<!doctype html><title>sluicegate</title><p>generation {}</p>",
        status.generation
    )
}
