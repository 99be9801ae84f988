//! Property tests as a fuzzer for the loader and compiler: no input may make them panic or hang.
//!
//! Two generators: arbitrary bytes (most are not YAML at all), and arbitrary trees built from
//! OpenAPI's own vocabulary (so that the compiler's deeper paths are reached), written as JSON or YAML.
//! `PROPTEST_CASES=100000 cargo test -p specgate-compiler --test fuzz_loader --release` runs longer.

use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;
use specgate_compiler::{Limits, Spec, compile};

fn load_and_compile(name: &str, bytes: Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/malformed")
        .join(name);
    if let Ok(spec) = Spec::from_bytes(&path, bytes, Limits::default()) {
        let _ = compile(&spec);
    }
}

const KEYS: &[&str] = &[
    "openapi",
    "info",
    "paths",
    "/a/{id}",
    "/a/me",
    "get",
    "post",
    "parameters",
    "name",
    "in",
    "style",
    "explode",
    "schema",
    "requestBody",
    "content",
    "application/json",
    "$ref",
    "properties",
    "items",
    "allOf",
    "oneOf",
    "anyOf",
    "nullable",
    "readOnly",
    "required",
    "type",
    "discriminator",
    "propertyName",
    "mapping",
    "components",
    "schemas",
    "A",
    "B",
    "securitySchemes",
    "security",
    "x-security",
    "rate-limits",
    "limit",
    "window",
    "cors",
    "origins",
    "hosts",
    "servers",
    "url",
    "variables",
    "exclusiveMinimum",
    "format",
    "encoding",
    "example",
    "not",
    "additionalProperties",
];
const STRINGS: &[&str] = &[
    "3.0.3",
    "3.1.0",
    "#/components/schemas/A",
    "#/components/schemas/B",
    "#/paths/~1a~1{id}",
    "other.yaml#/A",
    "https://x/y",
    "#",
    "#/",
    "path",
    "query",
    "header",
    "cookie",
    "form",
    "deepObject",
    "string",
    "integer",
    "int32",
    "object",
    "1m",
    "0s",
    "10.0.0.0/8",
    "from-servers",
    "*",
    "http",
    "bearer",
    "apiKey",
    "mutualTLS",
    "",
];

fn tree() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(STRINGS).prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|entries| {
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// A generated tree with the fields that get it past version detection most of the time.
fn document() -> impl Strategy<Value = Value> {
    (prop::sample::select(&["3.0.3", "3.1.0"][..]), tree(), tree()).prop_map(|(version, paths, components)| {
        serde_json::json!({"openapi": version, "info": {"title": "t", "version": "1"}, "paths": paths, "components": components})
    })
}

/// A plain YAML rendering (block style) of a value, to exercise the YAML path as well as JSON.
fn to_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                out.push_str(&format!(
                    "\n{pad}{}:",
                    serde_json::to_string(k).unwrap_or_default()
                ));
                to_yaml(v, indent + 2, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for v in items {
                out.push_str(&format!("\n{pad}-"));
                to_yaml(v, indent + 2, out);
            }
        }
        other => out.push_str(&format!(" {other}")),
    }
}

proptest! {
    // 256 cases by default; PROPTEST_CASES raises it.
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        load_and_compile("fuzz.yaml", bytes.clone());
        load_and_compile("fuzz.json", bytes);
    }

    #[test]
    fn arbitrary_yaml_text_never_panics(text in "[a-z:{}\\[\\],&*!|>'\"#\\- \n]{0,200}") {
        load_and_compile("fuzz.yaml", text.into_bytes());
    }

    #[test]
    fn arbitrary_openapi_shaped_trees_never_panic(doc in document()) {
        load_and_compile("fuzz.json", doc.to_string().into_bytes());
        let mut yaml = String::new();
        to_yaml(&doc, 0, &mut yaml);
        load_and_compile("fuzz.yaml", yaml.into_bytes());
    }
}
