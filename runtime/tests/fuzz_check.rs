//! Property tests as a fuzzer for the engine's request check: arbitrary methods, targets, headers and
//! bodies against the example plans must never panic, and every refusal must map to an HTTP status.
//! `PROPTEST_CASES=100000 cargo test --release -p specgate-runtime --test fuzz_check` runs longer.

use std::sync::OnceLock;

use proptest::prelude::*;
use specgate_runtime::Engine;
use specgate_runtime::engine::{Connection, Verdict};

/// The engine of an example spec, compiled once per test binary.
fn load(spec: &str) -> Engine {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(spec);
    let plan = specgate_compiler::compile_file(&path)
        .expect("the spec compiles")
        .plan;
    let mut engine = Engine::load(&plan).expect("the plan loads");
    // Spec paths at the root, so that generated targets reach the operations.
    engine.set_base_path("/");
    engine
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| load("../specs/petstore-3.0.yaml"))
}

fn notes() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| load("../tests/fixtures/sidecar/notes.yaml"))
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"
        ])
        .prop_map(str::to_owned),
        "[A-Z]{1,10}",
    ]
}

fn target() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        prop::sample::select(vec![
            "pets",
            "search",
            "123",
            "photos",
            "admin",
            "reindex",
            "categories",
            "newsletter",
            "subscriptions",
            "%2F",
            "%00",
            "..",
            ";a=b",
            ".x,y",
            "vaccinations"
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9%._~;=,-]{0,12}",
    ];
    let query = prop::collection::vec(("[a-z\\[\\]]{0,8}", "[a-zA-Z0-9%+,|. -]{0,12}"), 0..5)
        .prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20")))
                .collect::<Vec<_>>()
                .join("&")
        });
    (prop::collection::vec(segment, 0..5), query).prop_map(|(segments, query)| {
        let path = format!("/{}", segments.join("/"));
        if query.is_empty() {
            path
        } else {
            format!("{path}?{query}")
        }
    })
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "content-type",
            "cookie",
            "x-request-id",
            "authorization",
            "content-length",
            "x-pet-filter"
        ])
        .prop_map(str::to_owned),
        "[a-z-]{1,12}",
    ];
    prop::collection::vec((name, "[ -~]{0,40}"), 0..6)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "[{}\\[\\]\":,a-z0-9 ]{0,200}".prop_map(String::into_bytes),
        Just(br#"{"name": "Rex", "petType": "dog", "name": "Max"}"#.to_vec()),
        Just(b"email=a%40b.c&consent=true&topics=offers&topics=events".to_vec()),
    ]
}

proptest! {
    #[test]
    fn the_check_never_panics_and_every_refusal_has_a_status(method in method(), target in target(), headers in headers(), body in body()) {
        let mut request = http::Request::builder().method(method.as_str()).uri(target.as_str());
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        // Inputs http itself refuses never reach the engine.
        let Ok(request) = request.body(()) else { return Ok(()) };
        let (parts, ()) = request.into_parts();
        let engine = engine();
        let connection = Connection::plain(std::net::Ipv4Addr::LOCALHOST.into());
        match engine.check_head(&parts, &connection, std::time::SystemTime::now()) {
            Err(refusal) => prop_assert!((400..600).contains(&refusal.denial.status())),
            Ok(Verdict::Preflight(_)) => {}
            Ok(Verdict::Admitted(mut admitted)) => {
                let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok());
                let checked = engine
                    .check_parameters(&mut admitted, &parts)
                    .and_then(|()| engine.check_body(&mut admitted, content_type, &body));
                if let Err(refusal) = checked {
                    let denial = refusal.denial;
                    prop_assert!((400..600).contains(&denial.status()));
                    let problem = denial.problem("id", true).to_string();
                    // Refusals never echo what was sent (bodies long enough to be recognisable).
                    if body.len() > 24 && let Ok(text) = std::str::from_utf8(&body) {
                        prop_assert!(!problem.contains(text));
                    }
                }
            }
        }
    }
}

/// Multipart bodies made of plausible pieces in arbitrary order: boundaries, headers, data.
fn multipart_body() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just("--XYZ\r\n".to_owned()),
        Just("--XYZ--\r\n".to_owned()),
        Just("Content-Disposition: form-data; name=\"caption\"\r\n\r\n".to_owned()),
        Just("Content-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n".to_owned()),
        Just("Content-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n".to_owned()),
        Just("Content-Disposition: form-data; name=\"tags\"\r\n\r\n".to_owned()),
        "[ -~\r\n]{0,30}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat().into_bytes())
}

proptest! {
    #[test]
    fn multipart_bodies_never_panic(body in multipart_body(), boundary in prop_oneof![Just("XYZ".to_owned()), "[ -~]{0,12}"]) {
        let head = http::Request::builder().method("POST").uri("/notes/1/attachments").body(()).expect("valid").into_parts().0;
        let engine = notes();
        let connection = Connection::plain(std::net::Ipv4Addr::LOCALHOST.into());
        let Ok(Verdict::Admitted(mut admitted)) = engine.check_head(&head, &connection, std::time::SystemTime::now()) else {
            panic!("admitted")
        };
        let content_type = format!("multipart/form-data; boundary={boundary}");
        if let Err(refusal) = engine.check_body(&mut admitted, Some(&content_type), &body) {
            prop_assert_eq!(refusal.denial.status(), 400);
        }
    }
}
