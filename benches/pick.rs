//! One `pick` of every policy at 3, 100 and 1,000 backends, against an endpoint set
//! that answers like the runtime's: atomic loads, cached totals.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use sluicegate_balance::{
    AnyPolicy, IpHash, LeastConnections, Maglev, Policy, PowerOfTwo, Random, RingHash, RoundRobin,
    stable_hash,
};
use sluicegate_core::{EndpointSet, PickKey};

/// Backends with weights 1..=4 and 1 to 7 requests in flight each (none idle, so
/// `least_connections` scans them all), all eligible.
struct Set {
    weights: Vec<u32>,
    in_flight: Vec<AtomicU64>,
    total: AtomicU64,
    eligible_weight: u64,
}

impl Set {
    fn new(n: usize) -> Self {
        let weights: Vec<u32> = (0..n).map(|i| (i % 4) as u32 + 1).collect();
        let in_flight: Vec<AtomicU64> =
            (0..n).map(|i| AtomicU64::new((i % 7) as u64 + 1)).collect();
        let total = in_flight.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        Self {
            eligible_weight: weights.iter().map(|&w| u64::from(w)).sum(),
            weights,
            in_flight,
            total: AtomicU64::new(total),
        }
    }
}

impl EndpointSet for Set {
    fn len(&self) -> usize {
        self.weights.len()
    }
    fn weight(&self, i: usize) -> u32 {
        self.weights[i]
    }
    fn is_eligible(&self, _i: usize) -> bool {
        true
    }
    fn in_flight(&self, i: usize) -> u64 {
        self.in_flight[i].load(Ordering::Relaxed)
    }
    fn total_in_flight(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
    fn eligible_weight(&self) -> u64 {
        self.eligible_weight
    }
}

fn policies(set: &Set) -> Vec<(&'static str, AnyPolicy)> {
    let w = &set.weights;
    let ids: Vec<String> = (0..w.len())
        .map(|i| format!("10.0.{}.{}:80", i / 250, i % 250))
        .collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    vec![
        ("random", AnyPolicy::Random(Random::new(w))),
        ("p2c", AnyPolicy::PowerOfTwo(PowerOfTwo::new(w))),
        ("round_robin", AnyPolicy::RoundRobin(RoundRobin::new(w))),
        (
            "least_connections",
            AnyPolicy::LeastConnections(LeastConnections::new(w)),
        ),
        ("ip_hash", AnyPolicy::IpHash(IpHash::new(w))),
        (
            "ring_hash",
            AnyPolicy::RingHash(RingHash::new(&ids, w, 160, None)),
        ),
        (
            "ring_hash_bounded",
            AnyPolicy::RingHash(RingHash::new(&ids, w, 160, Some(125))),
        ),
        (
            "maglev",
            AnyPolicy::Maglev(Maglev::new(&ids, w, 65_537, None)),
        ),
        (
            "maglev_bounded",
            AnyPolicy::Maglev(Maglev::new(&ids, w, 65_537, Some(125))),
        ),
    ]
}

fn pick(c: &mut Criterion) {
    let mut group = c.benchmark_group("pick");
    for n in [3usize, 100, 1_000] {
        let set = Set::new(n);
        for (name, policy) in policies(&set) {
            let mut k = 0u64;
            group.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter(|| {
                    k = k.wrapping_add(1);
                    let key = PickKey {
                        client_ip: None,
                        affinity: Some(stable_hash(&k.to_le_bytes())),
                    };
                    black_box(policy.pick(black_box(&key), &set))
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, pick);
criterion_main!(benches);
