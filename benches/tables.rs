//! Building the consistent-hashing tables (done on every reload, off the hot path):
//! a ring of 160 points per unit of weight and a 65537-entry Maglev table, for 10 and
//! 1,000 backends of weight 1.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sluicegate_balance::{Maglev, RingHash};

fn ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("10.0.{}.{}:80", i / 250, i % 250))
        .collect()
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    for n in [10usize, 1_000] {
        let owned = ids(n);
        let ids: Vec<&str> = owned.iter().map(String::as_str).collect();
        let weights = vec![1u32; n];
        group.bench_function(BenchmarkId::new("ring_hash_160", n), |b| {
            b.iter(|| black_box(RingHash::new(&ids, &weights, 160, None)));
        });
        group.bench_function(BenchmarkId::new("maglev_65537", n), |b| {
            b.iter(|| black_box(Maglev::new(&ids, &weights, 65_537, None)));
        });
    }
    group.finish();
}

criterion_group!(benches, build);
criterion_main!(benches);
