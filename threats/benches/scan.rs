//! Benchmarks of `Detector::scan`: the common benign values and an attack.
use criterion::{Criterion, criterion_group, criterion_main};
use specgate_threats::{Detector, Kinds};
use std::hint::black_box;

fn scan(c: &mut Criterion) {
    let d = Detector::new();
    let long_prose =
        "It's a great product; the lid doesn't close & the 'premium' finish scratches \
        easily. Still, 4/5 -- would buy again (maybe). Shipping took 3-5 days; support answered \
        within 24h at help@example.com. See https://example.com/reviews?id=42&page=2 for more. "
            .repeat(10);
    let cases: [(&str, &str); 6] = [
        ("benign short word", "alice"),
        ("benign short id", "550e8400-e29b-41d4-a716-446655440000"),
        ("benign short name with quote", "O'Brien"),
        ("benign long prose", &long_prose),
        (
            "attack sqli",
            "1' UNION SELECT username, password FROM users--",
        ),
        (
            "attack xss encoded",
            "%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        ),
    ];
    for (name, value) in cases {
        c.bench_function(&format!("scan {name}"), |b| {
            b.iter(|| d.scan(black_box(value), Kinds::ALL))
        });
    }
}

criterion_group!(benches, scan);
criterion_main!(benches);
