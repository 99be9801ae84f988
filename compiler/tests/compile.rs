//! Compiling small specs: schema normalisation, references, security and x-security inheritance.

use std::path::PathBuf;

use serde_json::{Value, json};
use specgate_compiler::compile_file;
use specgate_plan::Plan;

/// Writes `files` (name, text) into a fresh folder and returns the path of the first.
fn write(files: &[(&str, &str)]) -> PathBuf {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("specgate-compile-{}-{n}", std::process::id()));
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    dir.join(files[0].0)
}

fn plan(files: &[(&str, &str)]) -> Plan {
    match compile_file(&write(files)) {
        Ok(c) => c.plan,
        Err(e) => panic!("{}", e[0]),
    }
}

fn body_schema(plan: &Plan, op: usize) -> &Value {
    plan.operations[op]
        .request_body
        .as_ref()
        .unwrap()
        .content
        .values()
        .next()
        .unwrap()
        .schema
        .as_ref()
        .unwrap()
}

const V30: &str = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n";
const V31: &str = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n";

fn post_with(schema: &str, components: &str, head: &str) -> String {
    format!(
        "{head}paths:\n  /things:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema: {schema}\n      responses: {{}}\ncomponents:\n  schemas:\n{components}"
    )
}

#[test]
fn openapi_30_dialect_becomes_2020_12() {
    let spec = post_with(
        "{$ref: '#/components/schemas/Thing'}",
        "    Thing:\n      type: object\n      required: [id, name]\n      properties:\n        id: {type: integer, format: int64, readOnly: true}\n        name: {type: string, nullable: true, description: dropped}\n        size: {type: integer, format: int32, minimum: 0, exclusiveMinimum: true}\n        colour: {type: string, enum: [red, blue], nullable: true}\n        any: {allOf: [{$ref: '#/components/schemas/Tag'}], nullable: true}\n    Tag: {type: string, maxLength: 8}\n",
        V30,
    );
    let plan = plan(&[("api.yaml", &spec)]);
    assert_eq!(body_schema(&plan, 0), &json!({"$ref": "#/$defs/Thing"}));
    let thing = &plan.schemas["Thing"];
    assert_eq!(
        thing["required"],
        json!(["name"]),
        "readOnly id is not required in requests"
    );
    assert_eq!(
        thing["properties"]["id"],
        json!(false),
        "readOnly id is refused in requests"
    );
    assert_eq!(
        thing["properties"]["name"],
        json!({"type": ["string", "null"]})
    );
    assert_eq!(
        thing["properties"]["size"],
        json!({"type": "integer", "format": "int32", "exclusiveMinimum": 0, "maximum": 2147483647})
    );
    assert_eq!(
        thing["properties"]["colour"]["enum"],
        json!(["red", "blue", null])
    );
    assert_eq!(
        thing["properties"]["any"],
        json!({"anyOf": [{"allOf": [{"$ref": "#/$defs/Tag"}]}, {"type": "null"}]})
    );
    assert_eq!(
        plan.schemas["Tag"],
        json!({"type": "string", "maxLength": 8})
    );
}

#[test]
fn ref_siblings_are_ignored_in_30_and_applied_in_31() {
    let components = "    Tag: {type: string}\n";
    let v30 = plan(&[(
        "api.yaml",
        &post_with(
            "{$ref: '#/components/schemas/Tag', maxLength: 3}",
            components,
            V30,
        ),
    )]);
    assert_eq!(body_schema(&v30, 0), &json!({"$ref": "#/$defs/Tag"}));
    let v31 = plan(&[(
        "api.yaml",
        &post_with(
            "{$ref: '#/components/schemas/Tag', maxLength: 3, description: x}",
            components,
            V31,
        ),
    )]);
    assert_eq!(
        body_schema(&v31, 0),
        &json!({"maxLength": 3, "$ref": "#/$defs/Tag"})
    );
}

#[test]
fn readonly_through_a_ref_and_31_keywords_are_kept() {
    let components = "    Id: {type: string, readOnly: true}\n    Thing:\n      type: [object, 'null']\n      properties:\n        id: {$ref: '#/components/schemas/Id'}\n        owner: {allOf: [{$ref: '#/components/schemas/Id'}]}\n        kind: {const: thing}\n      unevaluatedProperties: false\n";
    let plan = plan(&[(
        "api.yaml",
        &post_with("{$ref: '#/components/schemas/Thing'}", components, V31),
    )]);
    let thing = &plan.schemas["Thing"];
    assert_eq!(thing["properties"]["id"], json!(false));
    assert_eq!(
        thing["properties"]["owner"],
        json!(false),
        "readOnly through an allOf branch"
    );
    assert_eq!(thing["properties"]["kind"], json!({"const": "thing"}));
    assert_eq!(thing["unevaluatedProperties"], json!(false));
    assert_eq!(thing["type"], json!(["object", "null"]));
}

#[test]
fn discriminators_require_a_known_value() {
    let components = "    Pet:\n      oneOf: [{$ref: '#/components/schemas/Cat'}, {$ref: '#/components/schemas/Dog'}]\n      discriminator:\n        propertyName: kind\n        mapping: {kitty: '#/components/schemas/Cat'}\n    Cat: {type: object}\n    Dog: {type: object}\n";
    let plan = plan(&[(
        "api.yaml",
        &post_with("{$ref: '#/components/schemas/Pet'}", components, V31),
    )]);
    assert_eq!(
        plan.schemas["Pet"]["allOf"],
        json!([{"required": ["kind"], "properties": {"kind": {"enum": ["kitty", "Dog"]}}}])
    );
}

#[test]
fn recursive_schemas_are_shared_not_expanded() {
    let components = "    Node:\n      type: object\n      properties:\n        children: {type: array, items: {$ref: '#/components/schemas/Node'}}\n";
    let plan = plan(&[(
        "api.yaml",
        &post_with("{$ref: '#/components/schemas/Node'}", components, V30),
    )]);
    assert_eq!(
        plan.schemas["Node"]["properties"]["children"]["items"],
        json!({"$ref": "#/$defs/Node"})
    );
    assert_eq!(plan.schemas.len(), 1);
}

#[test]
fn refs_in_other_files_resolve_relative_to_the_file_holding_them() {
    let root = format!("{V30}paths:\n  /things:\n    $ref: paths/things.yaml\n");
    let path_item = "post:\n  requestBody:\n    content:\n      application/json:\n        schema: {$ref: '../schemas/thing.yaml#/Thing'}\n        example: {$ref: 'no/such/file.yaml'}\n  responses: {}\n";
    let schemas =
        "Thing:\n  type: object\n  properties:\n    part: {$ref: '#/Part'}\nPart: {type: string}\n";
    let plan = plan(&[
        ("api.yaml", &root),
        ("paths/things.yaml", path_item),
        ("schemas/thing.yaml", schemas),
    ]);
    assert_eq!(
        body_schema(&plan, 0),
        &json!({"$ref": "#/$defs/thing.Thing"})
    );
    assert_eq!(
        plan.schemas["thing.Thing"]["properties"]["part"],
        json!({"$ref": "#/$defs/thing.Part"})
    );
    assert_eq!(plan.operations[0].origin.file, "paths/things.yaml");
}

#[test]
fn x_security_levels_merge_key_by_key() {
    let spec = format!(
        "{V30}x-security:\n  request: {{max-body: 64KiB, verbose-errors: true}}\n  rate-limits: [{{limit: 60, window: 1m}}]\n  ip: {{allow: [10.0.0.0/8]}}\npaths:\n  /a:\n    x-security:\n      request: {{max-body: 1KiB}}\n      ip: {{allow: []}}\n    get:\n      x-security:\n        rate-limits: [{{limit: 5, window: 1s, burst: 10, key: ip}}]\n        response-headers: {{set: {{X-Frame-Options: null}}}}\n      responses: {{}}\n    put:\n      responses: {{}}\n"
    );
    let plan = plan(&[("api.yaml", &spec)]);
    let get = &plan.operations[0].policy;
    assert_eq!(
        get.request.max_body.0, 1024,
        "path level replaces the document's size"
    );
    assert!(
        get.request.verbose_errors,
        "the document's other request keys remain"
    );
    assert!(get.ip.allow.is_empty(), "[] clears");
    assert_eq!(get.rate_limits.len(), 1);
    assert_eq!(get.rate_limits[0].burst, Some(10));
    assert_eq!(
        get.response_headers
            .set
            .get(&"X-Frame-Options".parse().unwrap()),
        Some(&None)
    );
    assert_eq!(
        get.response_headers
            .set
            .get(&"X-Content-Type-Options".parse().unwrap()),
        Some(&Some("nosniff".to_owned()))
    );
    let put = &plan.operations[1].policy;
    assert_eq!(
        put.rate_limits[0].limit, 60,
        "operations without their own inherit the document's limits"
    );
    assert_eq!(plan.defaults.request.max_body.0, 64 * 1024);
}

#[test]
fn security_requirements_follow_openapi() {
    let spec = format!(
        "{V30}security: [{{key: []}}]\npaths:\n  /a:\n    get: {{responses: {{}}}}\n    put:\n      security: []\n      responses: {{}}\n    post:\n      security: [{{oauth: [write, admin], key: []}}, {{bearer: []}}]\n      responses: {{}}\ncomponents:\n  securitySchemes:\n    key: {{type: apiKey, in: header, name: X-Key, x-security: {{keys-env: KEYS}}}}\n    bearer: {{type: http, scheme: bearer}}\n    oauth: {{type: oauth2, flows: {{}}, x-security: {{jwks-uri: 'https://idp.example/jwks', issuer: 'https://idp.example/', audiences: [api]}}}}\n"
    );
    let plan = plan(&[("api.yaml", &spec)]);
    let by_method = |m: &str| {
        plan.operations
            .iter()
            .find(|o| o.method.as_str() == m)
            .unwrap()
    };
    assert_eq!(
        serde_json::to_value(&by_method("GET").security).unwrap(),
        json!([{"key": []}])
    );
    assert!(by_method("PUT").security.is_empty());
    assert_eq!(
        serde_json::to_value(&by_method("POST").security).unwrap(),
        json!([{"key": [], "oauth": ["write", "admin"]}, {"bearer": []}])
    );
    assert!(
        plan.security_schemes["bearer"].verify.is_none(),
        "no way to verify: requests are refused"
    );
}

#[test]
fn same_spec_same_bytes_wherever_it_is_compiled_from() {
    let spec = format!(
        "{V31}paths:\n  /b: {{get: {{responses: {{}}}}}}\n  /a: {{post: {{responses: {{}}}}, get: {{responses: {{}}}}}}\n"
    );
    let one = plan(&[("api.yaml", &spec)]).to_json();
    let two = plan(&[("api.yaml", &spec)]).to_json();
    assert_eq!(one, two);
    let paths: Vec<_> = plan(&[("api.yaml", &spec)])
        .operations
        .iter()
        .map(|o| format!("{} {}", o.method.as_str(), o.path))
        .collect();
    assert_eq!(paths, ["GET /a", "POST /a", "GET /b"]);
}

#[test]
fn a_jwks_file_is_embedded_and_private_keys_are_refused() {
    let spec = format!(
        "{V31}paths: {{}}\ncomponents:\n  securitySchemes:\n    bearer: {{type: http, scheme: bearer, x-security: {{jwks-file: keys.json}}}}\n"
    );
    let public = r#"{"keys": [{"kty": "RSA", "kid": "a", "n": "xyz", "e": "AQAB"}]}"#;
    let plan = plan(&[("api.yaml", &spec), ("keys.json", public)]);
    let specgate_plan::scheme::Verification::Jwt(jwt) =
        plan.security_schemes["bearer"].verify.as_ref().unwrap()
    else {
        panic!("jwt")
    };
    assert_eq!(jwt.jwks.as_ref().unwrap()["keys"][0]["kid"], "a");
    assert!(jwt.jwks_file.is_none());
    let private = r#"{"keys": [{"kty": "RSA", "kid": "a", "n": "xyz", "e": "AQAB", "d": "c2VjcmV0VmFsdWU"}]}"#;
    let err = compile_file(&write(&[("api.yaml", &spec), ("keys.json", private)])).unwrap_err();
    assert_eq!(err[0].code, "private-key");
    assert!(
        !err[0].to_string().contains("c2VjcmV0VmFsdWU"),
        "the secret is never echoed"
    );
}
