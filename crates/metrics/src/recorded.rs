//! Test only: what a piece of code recorded, read back from a local debugging
//! recorder as sorted `(name, labels, value)` rows.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

/// One recorded series: its name, its labels as `key=value`, its value.
pub(crate) type Row = (String, Vec<String>, DebugValue);

/// Runs `record` against a fresh recorder and returns every series it left, sorted by
/// name and labels.
pub(crate) fn recorded(record: impl FnOnce()) -> Vec<Row> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, record);
    let mut rows: Vec<Row> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key.labels().map(|l| format!("{}={}", l.key(), l.value()));
            (key.name().to_owned(), labels.collect(), value)
        })
        .collect();
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows
}
