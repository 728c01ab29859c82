//! Criterion micro-benchmarks of sluicegate's hot paths, one file per subject
//! (`pick.rs`: one pick of every policy at 3, 100 and 1,000 backends; `tables.rs`:
//! building ring and Maglev tables). Run with `cargo bench -p sluicegate-benches`.
//! The wrk comparison with nginx and HAProxy is `../shared/bench/run.sh` with
//! `bench.yaml` (see the README). This library is empty on purpose.
