//! The example specs compile, run as engines, and their x-security objects match the published schema.

use serde_json::Value;
use specgate_compiler::{Limits, load};
use specgate_runtime::Engine;

#[test]
fn every_example_spec_compiles_and_loads_into_an_engine() {
    let roots = specgate_tests::example_specs();
    assert!(
        roots.len() >= 3,
        "expected the example specs, found {roots:?}"
    );
    for path in roots {
        let compiled = specgate_compiler::compile_file(&path)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e[0]));
        let engine =
            Engine::load(&compiled.plan).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!engine.operations().is_empty(), "{}", path.display());
        assert!(
            compiled.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            compiled.warnings
        );
    }
}

/// Every `x-security` object in every example file, with the `$defs` entry of the schema it must match.
fn x_security_objects(value: &Value, out: &mut Vec<(Value, &'static str)>) {
    match value {
        Value::Object(map) => {
            if let Some(x) = map.get("x-security") {
                let def = match (
                    map.get("type").and_then(Value::as_str),
                    map.get("scheme").and_then(Value::as_str),
                ) {
                    _ if x.get("mtls").is_some() => "mtls-3.0",
                    (Some("apiKey"), _) => "api-key",
                    (Some("mutualTLS"), _) => "mtls",
                    (Some("http" | "oauth2" | "openIdConnect"), _) => "jwt",
                    _ => "policy",
                };
                out.push((x.clone(), def));
            }
            for (key, child) in map {
                if key != "x-security" {
                    x_security_objects(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| x_security_objects(i, out)),
        _ => {}
    }
}

#[test]
fn x_security_objects_match_the_published_json_schema() {
    let root = specgate_tests::repo_root();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/x-security.schema.json")).expect("schema file"),
    )
    .expect("schema is JSON");
    let files: Vec<_> = specgate_tests::spec_files(&root.join("specs"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e != "json"))
        .collect();
    let mut checked = 0;
    for path in files {
        let value = load::read_value(&path, &Limits::default()).unwrap_or_else(|d| panic!("{d}"));
        let mut objects = Vec::new();
        x_security_objects(&value, &mut objects);
        for (object, def) in objects {
            let mut wrapper = schema.clone();
            wrapper["$ref"] = Value::String(format!("#/$defs/{def}"));
            let validator =
                jsonschema::validator_for(&wrapper).expect("the published schema compiles");
            let errors: Vec<String> = validator
                .iter_errors(&object)
                .map(|e| e.to_string())
                .collect();
            assert!(
                errors.is_empty(),
                "{}: x-security ({def}) does not match the schema: {errors:?}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} x-security objects found");
}

#[test]
fn the_published_schema_refuses_what_the_compiler_refuses() {
    let root = specgate_tests::repo_root();
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/x-security.schema.json")).expect("schema file"),
    )
    .expect("schema is JSON");
    schema["$ref"] = Value::String("#/$defs/policy".into());
    let validator = jsonschema::validator_for(&schema).expect("compiles");
    for bad in [
        serde_json::json!({"rate-limit": []}),
        serde_json::json!({"mode": "enforcing"}),
        serde_json::json!({"request": {"max-body": "1MB"}}),
        serde_json::json!({"rate-limits": [{"limit": 0, "window": "1m"}]}),
        serde_json::json!({"cors": {"origins": ["*"], "credentials": true}}),
    ] {
        assert!(!validator.is_valid(&bad), "schema accepted {bad}");
    }
    assert!(validator.is_valid(&serde_json::json!({"rate-limits": [{"limit": 60, "window": "1m", "key": "header:X-Tenant"}]})));
}
