//! Configs shared by test files.

use sluicegate_testkit::{Backend, single_cluster};

/// A single-cluster config of `backend` (`single_cluster`) whose listener has
/// these `key: value` lines.
pub fn with_listener_keys(backend: &Backend, keys: &[(&str, &str)]) -> String {
    let lines: String = keys
        .iter()
        .map(|(k, v)| format!("    {k}: {v}\n"))
        .collect();
    single_cluster(&[backend], &[]).replace(
        "    address: 127.0.0.1:0\n",
        &format!("    address: 127.0.0.1:0\n{lines}"),
    )
}
