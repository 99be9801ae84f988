//! Cost of a check against the in-process store.
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use specgate_ratelimit::{LimitSpec, LocalStore};

fn bench(c: &mut Criterion) {
    let minute = LimitSpec::new("per-minute", 1_000_000, Duration::from_secs(60), None).unwrap();
    let hour = LimitSpec::new("per-hour", 1_000_000, Duration::from_secs(3600), None).unwrap();
    let small = LimitSpec::new("per-second", 10, Duration::from_secs(1), None).unwrap();
    let bucket = LimitSpec::new("throttle", 1_000_000, Duration::from_secs(1), Some(100)).unwrap();

    let store = LocalStore::new(100_000);
    let one = vec![(minute.clone(), "per-minute:ip:192.0.2.1".to_owned())];
    let mut now = 0u64;
    c.bench_function("local: one window limit, one key", |b| {
        b.iter(|| {
            now += 1;
            black_box(store.check_at(now, black_box(&one)))
        })
    });

    let three = vec![
        (minute.clone(), "per-minute:credential:alice".to_owned()),
        (hour, "per-hour:credential:alice".to_owned()),
        (bucket.clone(), "throttle:ip:192.0.2.1".to_owned()),
    ];
    c.bench_function("local: three limits, one client", |b| {
        b.iter(|| {
            now += 1;
            black_box(store.check_at(now, black_box(&three)))
        })
    });

    // A refused check: the exact log of a small limit, full.
    let refused = vec![(small, "per-second:ip:192.0.2.9".to_owned())];
    c.bench_function("local: refused, exact log full", |b| {
        b.iter(|| black_box(store.check_at(now, black_box(&refused))))
    });

    // 10 000 clients in turn (keys built beforehand, as the sidecar builds them per request).
    let clients: Vec<Vec<_>> = (0..10_000)
        .map(|i| {
            vec![(
                bucket.clone(),
                format!("throttle:ip:10.0.{}.{}", i / 256, i % 256),
            )]
        })
        .collect();
    let mut i = 0;
    c.bench_function("local: token bucket, 10k clients", |b| {
        b.iter(|| {
            now += 1;
            i = (i + 1) % clients.len();
            black_box(store.check_at(now, black_box(&clients[i])))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
