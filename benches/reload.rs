//! Compiling a reload against the live snapshot when one backend of one cluster out of
//! 1,000 changed: the work a routine edit costs. Clusters cycle through round-robin,
//! ring hash and Maglev (65,537 entries), 10 backends each.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sluicegate_runtime::compile;

const CLUSTERS: usize = 1_000;
const BACKENDS: usize = 10;

/// The fleet's YAML; `moved` shifts the port of cluster 500's first backend.
fn fleet(moved: bool) -> String {
    let mut yaml = String::from("listeners:\n  web:\n    address: 127.0.0.1:0\n    routes:\n");
    for c in 0..CLUSTERS {
        yaml.push_str(&format!(
            "      - {{ match: {{ host: c{c}.example }}, cluster: c{c} }}\n"
        ));
    }
    yaml.push_str("clusters:\n");
    for c in 0..CLUSTERS {
        let policy = ["round_robin", "ring_hash", "maglev"][c % 3];
        yaml.push_str(&format!("  c{c}:\n    policy: {policy}\n    backends:\n"));
        for b in 0..BACKENDS {
            let port = if moved && c == 500 && b == 0 {
                9999
            } else {
                9000 + b
            };
            yaml.push_str(&format!(
                "      - address: 10.{}.{}.{b}:{port}\n",
                c / 250,
                c % 250
            ));
        }
    }
    yaml
}

fn one_changed_backend(c: &mut Criterion) {
    let parse = |yaml: &str| match sluicegate_config::parse(yaml) {
        Ok(config) => config,
        Err(errors) => panic!("{errors}"),
    };
    let (before, after) = (parse(&fleet(false)), parse(&fleet(true)));
    let live = match compile(&before, None) {
        Ok(snapshot) => snapshot,
        Err(error) => panic!("{error}"),
    };
    let mut group = c.benchmark_group("reload");
    group.sample_size(10);
    group.bench_function("compile_1000_clusters_one_backend_changed", |b| {
        b.iter(|| black_box(compile(&after, Some(&live))));
    });
    group.finish();
}

criterion_group!(benches, one_changed_backend);
criterion_main!(benches);
