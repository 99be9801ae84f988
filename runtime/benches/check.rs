//! The engine's request check, per request: route lookup, parameters, and a ~1 KB JSON body.
//!
//! `cargo bench -p specgate-runtime --bench check`

use criterion::{Criterion, criterion_group, criterion_main};
use specgate_runtime::Engine;
use specgate_runtime::engine::{Connection, Verdict};

fn engine(spec: &str) -> Engine {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(spec);
    let plan = specgate_compiler::compile_file(&path)
        .expect("the example spec compiles")
        .plan;
    let mut engine = Engine::load(&plan).expect("the plan loads");
    // The spec's paths at the root (as `--base-path /`), so that targets need no server prefix.
    engine.set_base_path("/");
    engine
}

fn head(method: &str, target: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut request = http::Request::builder().method(method).uri(target);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(()).expect("a valid request").into_parts().0
}

fn bench(c: &mut Criterion) {
    let petstore = engine("../specs/petstore-3.0.yaml");
    let connection = Connection::plain(std::net::Ipv4Addr::LOCALHOST.into());
    let mut group = c.benchmark_group("check");
    group.bench_function("route lookup (templated path)", |b| {
        b.iter(|| petstore.route(specgate_plan::HttpMethod::Get, "/pets/123/photos/1,2,3"))
    });
    let list = head(
        "GET",
        "/pets?limit=20&offset=40&tags=small,friendly&sort=name%20-birthDate&status=available|pending",
        &[
            ("x-request-id", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"),
            ("cookie", "ps_locale=en-US"),
        ],
    );
    group.bench_function(
        "head: five query parameters of four styles, a header and a cookie",
        |b| {
            b.iter(
                || match petstore.check_head(&list, &connection, std::time::SystemTime::now()) {
                    Ok(Verdict::Admitted(mut admitted)) => {
                        petstore.check_parameters(&mut admitted, &list).is_ok()
                    }
                    _ => false,
                },
            )
        },
    );

    let notes = engine("../tests/fixtures/sidecar/notes.yaml");
    let tags: Vec<String> = (0..3).map(|i| format!("tag{i}")).collect();
    let body = serde_json::to_vec(&serde_json::json!({"title": "x".repeat(20), "tags": tags, "text": "lorem ipsum ".repeat(80)})).expect("json");
    assert!((900..1200).contains(&body.len()));
    let post = head("POST", "/notes", &[("content-type", "application/json")]);
    // Head and body checks of one JSON request, which must pass.
    let check_json = |engine: &Engine, head: &http::request::Parts, body: &[u8]| {
        let Ok(Verdict::Admitted(mut admitted)) =
            engine.check_head(head, &connection, std::time::SystemTime::now())
        else {
            panic!("admitted")
        };
        let valid = engine
            .check_body(&mut admitted, Some("application/json"), body)
            .is_ok();
        assert!(valid);
        valid
    };
    group.bench_function("body: ~1 KB JSON, parsed strictly and validated", |b| {
        b.iter(|| check_json(&notes, &post, &body))
    });

    // The load benchmark's request (bench/run): a 1 KB order with nested objects, an array of
    // items, formats (uuid, date-time, email), patterns, enums and bounds.
    let orders = engine("../bench/specs/validation.yaml");
    let order =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/order.json"))
            .expect("bench/order.json");
    let create = head("POST", "/orders", &[("content-type", "application/json")]);
    group.bench_function("body: the load benchmark's 1 KB order", |b| {
        b.iter(|| check_json(&orders, &create, &order))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
