//! The corpus of malformed specs: each must fail to compile with a precise, located, hinted error.

use std::path::Path;

/// (file, code, line, column, JSON pointer (prefix), part of the message)
const CASES: &[(&str, &str, u32, u32, &str, &str)] = &[
    (
        "alg-none.yaml",
        "invalid-value",
        13,
        29,
        "/components/securitySchemes/bearer/x-security/algorithms/1",
        "`none` is not a valid value here",
    ),
    (
        "bad-bot-regex.yaml",
        "invalid-value",
        7,
        20,
        "/x-security/bots/deny/1",
        "x-security: `/(nikto/` is not a valid regex: unclosed group",
    ),
    (
        "bad-parameter-location.yaml",
        "invalid-parameter",
        10,
        15,
        "/paths/~1pets/get/parameters/0/in",
        "parameter `limit` has `in: querry`",
    ),
    (
        "bad-parameter-style.yaml",
        "invalid-parameter",
        12,
        18,
        "/paths/~1pets~1{id}/get/parameters/0/style",
        "style `form` is not allowed for a path parameter",
    ),
    (
        "billion-laughs.yaml",
        "syntax",
        12,
        38,
        "/x-bomb/f/7",
        "YAML aliases expand to more than 1000000 nodes",
    ),
    (
        "cidr-host-bits.yaml",
        "invalid-value",
        7,
        12,
        "/x-security/ip/deny/0",
        "x-security: `192.168.1.7/24` has host bits set; did you mean",
    ),
    (
        "cors-credentials-wildcard.yaml",
        "invalid-value",
        6,
        3,
        "/x-security",
        "CORS `credentials: true` cannot be combined with the origin ",
    ),
    (
        "custom-tag.yaml",
        "syntax",
        5,
        8,
        "/paths",
        "YAML tag `!include` is not supported",
    ),
    (
        "dangling-file-ref.yaml",
        "unresolved-ref",
        7,
        11,
        "/paths/~1pets/$ref",
        "`paths/missing.yaml` names a file that cannot be read: canno",
    ),
    (
        "dangling-ref.yaml",
        "unresolved-ref",
        12,
        21,
        "/paths/~1pets/post/requestBody/content/application~1json/schema/$ref",
        "`#/components/schemas/Pett` does not resolve",
    ),
    (
        "duplicate-key.json",
        "syntax",
        5,
        3,
        "",
        "invalid JSON: duplicate key `paths`",
    ),
    (
        "duplicate-key.yaml",
        "syntax",
        9,
        5,
        "/paths/~1pets",
        "duplicate key `get` (first defined at line 7, column 5)",
    ),
    (
        "duration-without-unit.yaml",
        "invalid-value",
        8,
        14,
        "/x-security/cors/max-age",
        "x-security: integer `3600`, expected a duration such as 30s,",
    ),
    (
        "from-servers-without-hosts.yaml",
        "invalid-value",
        12,
        7,
        "/paths/~1pets/get",
        "`hosts: from-servers`, but no server URL names a host",
    ),
    (
        "hmac-without-secret.yaml",
        "invalid-value",
        13,
        21,
        "/components/securitySchemes/bearer/x-security/algorithms",
        "HMAC algorithms (HS*) need `secret-env`",
    ),
    (
        "invalid-cidr.yaml",
        "invalid-value",
        9,
        29,
        "/paths/~1admin/x-security/ip/allow/1",
        "x-security: `300.1.1.1/32` is not an IP network; write CIDR ",
    ),
    (
        "invalid-duration.yaml",
        "invalid-value",
        7,
        45,
        "/x-security/rate-limits/0/window",
        "x-security: `1 minute` has an unknown unit ` minute`; write ",
    ),
    (
        "invalid-host.yaml",
        "invalid-value",
        6,
        28,
        "/x-security/hosts/1",
        "x-security: `not a host` is not a host name; write api.examp",
    ),
    (
        "invalid-mode.yaml",
        "invalid-value",
        6,
        9,
        "/x-security/mode",
        "`enforcing` is not a valid value here",
    ),
    (
        "invalid-size.yaml",
        "invalid-value",
        10,
        21,
        "/paths/~1upload/post/x-security/request/max-body",
        "x-security: `1MB`: decimal units are ambiguous; write KiB, M",
    ),
    (
        "missing-openapi.yaml",
        "not-openapi",
        1,
        1,
        "",
        "the document has no `openapi` field",
    ),
    (
        "missing-paths.yaml",
        "missing-paths",
        1,
        1,
        "",
        "the document has no `paths`",
    ),
    (
        "path-without-slash.yaml",
        "invalid-path",
        6,
        3,
        "/paths/pets",
        "path `pets` does not start with `/`",
    ),
    (
        "paths-is-a-list.yaml",
        "invalid-value",
        6,
        3,
        "/paths",
        "`paths` must map path templates to path items, but is a list",
    ),
    (
        "plain-name-fragment.yaml",
        "unsupported-ref",
        12,
        21,
        "/paths/~1pets/post/requestBody/content/application~1json/schema/$ref",
        "`#pet` uses a plain-name fragment",
    ),
    (
        "private-jwks.yaml",
        "private-key",
        13,
        11,
        "/components/securitySchemes/bearer/x-security/jwks",
        "the inline JWKS holds private key material (`k`); a plan nev",
    ),
    (
        "ref-cycle.yaml",
        "ref-cycle",
        12,
        21,
        "/paths/~1pets/post/requestBody/content/application~1json/schema/$ref",
        "this `$ref` leads back to itself through a cycle of referenc",
    ),
    (
        "remote-ref.yaml",
        "remote-ref",
        9,
        17,
        "/paths/~1pets/get/parameters/0/$ref",
        "`https://example.com/params.yaml#/limit` is a remote referen",
    ),
    (
        "root-is-a-list.yaml",
        "not-openapi",
        1,
        1,
        "",
        "the document is not a mapping of OpenAPI fields",
    ),
    (
        "schema-not-mapping.yaml",
        "invalid-schema",
        11,
        21,
        "/paths/~1pets/post/requestBody/content/application~1json/schema",
        "a schema must be a mapping, not text",
    ),
    (
        "swagger-2.yaml",
        "unsupported-version",
        1,
        10,
        "/swagger",
        "Swagger 2.0 documents are not supported",
    ),
    (
        "syntax-json-trailing-comma.json",
        "syntax",
        6,
        3,
        "/paths",
        "invalid JSON: trailing comma",
    ),
    (
        "syntax-yaml-indent.yaml",
        "syntax",
        9,
        6,
        "/paths/~1pets",
        "invalid YAML: while parsing a block mapping, did not find ex",
    ),
    (
        "too-deep.yaml",
        "syntax",
        6,
        136,
        "/x-deep/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/",
        "nesting deeper than 128 levels",
    ),
    (
        "two-documents.yaml",
        "syntax",
        6,
        1,
        "",
        "the file holds more than one YAML document",
    ),
    (
        "unknown-jwt-key.yaml",
        "unknown-key",
        13,
        9,
        "/components/securitySchemes/bearer/x-security/audience",
        "unknown key `audience` in a bearer scheme's x-security",
    ),
    (
        "unknown-nested-key.yaml",
        "unknown-key",
        7,
        5,
        "/x-security/request/max-bdy",
        "unknown key `max-bdy` in x-security",
    ),
    (
        "unknown-scheme-type.yaml",
        "invalid-scheme",
        9,
        13,
        "/components/securitySchemes/key/type",
        "security scheme type `apikey` is not known",
    ),
    (
        "unknown-security-scheme.yaml",
        "unknown-scheme",
        6,
        5,
        "/security/0/bearr",
        "security scheme `bearr` is not declared in components.securi",
    ),
    (
        "unknown-version.yaml",
        "unsupported-version",
        1,
        10,
        "/openapi",
        "OpenAPI version `4.0.0` is not supported",
    ),
    (
        "unknown-x-security-key.yaml",
        "unknown-key",
        6,
        3,
        "/x-security/rate-limit",
        "unknown key `rate-limit` in x-security",
    ),
    (
        "version-not-text.yaml",
        "unsupported-version",
        1,
        10,
        "/openapi",
        "`openapi: 3.0` must be text",
    ),
    (
        "wrong-type.yaml",
        "invalid-value",
        7,
        21,
        "/x-security/request/max-json-depth",
        r#"x-security: string "deep", expected a whole number"#,
    ),
    (
        "x-security-not-mapping.yaml",
        "invalid-value",
        5,
        13,
        "/x-security",
        "`x-security` must be a mapping",
    ),
    (
        "zero-limit.yaml",
        "invalid-value",
        7,
        14,
        "/x-security/rate-limits/0/limit",
        "x-security: must be at least 1 (to refuse every request, use",
    ),
];

#[test]
fn every_malformed_spec_gets_a_located_error_with_a_hint() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let mut failures = Vec::new();
    for (file, code, line, column, pointer, message) in CASES {
        let path = dir.join(file);
        let errors = match specgate_compiler::compile_file(&path) {
            Ok(_) => {
                failures.push(format!("{file}: compiled, but must fail"));
                continue;
            }
            Err(errors) => errors,
        };
        let d = &errors[0];
        let got = (d.code, d.location.line, d.location.column);
        if got != (*code, *line, *column)
            || !d.location.pointer.starts_with(pointer)
            || !d.message.contains(message)
            || d.hint.is_none()
            || !d.location.file.ends_with(file)
        {
            failures.push(format!("{file}: expected {code} at {line}:{column} #{pointer} containing {message:?}, got:\n{d}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_corpus_is_complete() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let on_disk = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        on_disk,
        CASES.len(),
        "every file in tests/malformed needs a row in CASES"
    );
    assert!(CASES.len() >= 25);
}
