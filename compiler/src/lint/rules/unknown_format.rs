//! ## What it does
//! Flags a `format` on a request string or number (parameters and bodies) that specgate does not
//! check. specgate validates `date-time`, `date`, `time`, `duration`, `email`, `hostname`, `ipv4`,
//! `ipv6`, `uri`, `uri-reference`, `iri`, `iri-reference`, `uri-template`, `uuid`, `json-pointer`,
//! `relative-json-pointer` and `regex`, and turns `int32`/`int64` on an `integer` into bounds.
//! OpenAPI's own `float`, `double`, `byte`, `binary` and `password` are not flagged: they describe
//! the value for tools (specgate does not check them either). Everything else, including a typo such
//! as `date_time`, a vendor format such as `decimal` or `phone`, and `idn-email`/`idn-hostname` (this
//! build has no IDN support), is accepted as any value.
//!
//! ## Why is this bad?
//! A `format` reads like a constraint, so authors and reviewers rely on it: `format: datetime` or
//! `format: iban` looks validated, yet any string passes the gateway and reaches the service.
//!
//! ## Example
//! ```yaml
//! since: {type: string, format: datetime}
//! iban: {type: string, format: iban}
//! ```
//!
//! ## Use instead
//! ```yaml
//! since: {type: string, format: date-time}
//! iban: {type: string, pattern: "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API8: Security Misconfiguration
//! - CWE-20: Improper Input Validation

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::context::Keywords;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

/// Formats the run-time validator (`jsonschema`, draft 2020-12, built without `idna`) checks.
const VALIDATED: &[&str] = &[
    "date",
    "date-time",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "iri",
    "iri-reference",
    "json-pointer",
    "regex",
    "relative-json-pointer",
    "time",
    "uri",
    "uri-reference",
    "uri-template",
    "uuid",
];

/// OpenAPI's own formats that describe a value rather than restrict it: not flagged.
const OPENAPI_ANNOTATIONS: &[&str] = &["float", "double", "byte", "binary", "password"];

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG208",
            name: "unknown-format",
            severity: Severity::Info,
            summary: "A request string or number has a format specgate does not check.",
        }
    }

    fn reads_schemas(&self) -> bool {
        true
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        // Each `format` is judged where it is written, `allOf` branches included.
        for site in cx.request_schemas() {
            let Some(format) = site.value().get("format").and_then(Value::as_str) else {
                continue;
            };
            let merged = site.merged(cx);
            let scalar = ["string", "number", "integer"]
                .iter()
                .any(|t| merged.has_type(t));
            if (merged.contains_key("type") && !scalar)
                || VALIDATED.contains(&format)
                || OPENAPI_ANNOTATIONS.contains(&format)
            {
                continue;
            }
            let message = if matches!(format, "int32" | "int64") {
                // The compiler bounds only a schema that says `type: integer` itself.
                if Keywords::of(site.value()).has_type("integer") {
                    continue;
                }
                format!(
                    "`format: {format}` is ignored at run time here: specgate only enforces it beside `type: integer`"
                )
            } else {
                format!(
                    "`format: {format}` is not a format specgate checks: it is ignored at run time and any value passes"
                )
            };
            out.report(&site.node.child("format"), message, labels(cx, &site.operations))
                .hint("use a format specgate checks (such as `date-time`, `uuid`, `email`, `uri`), or a `pattern`, `enum` or bounds that express the constraint");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{OPENAPI_ANNOTATIONS, VALIDATED};

    /// Whether the validator the runtime builds (draft 2020-12, formats asserted) knows `format`.
    fn known_at_run_time(format: &str) -> bool {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .should_ignore_unknown_formats(false)
            .build(&json!({"type": "string", "format": format}))
            .is_ok()
    }

    #[test]
    fn the_validated_list_matches_the_run_time_validator() {
        for format in VALIDATED {
            assert!(
                known_at_run_time(format),
                "`{format}` is listed as validated"
            );
        }
        let candidates = OPENAPI_ANNOTATIONS.iter().chain(&[
            "int32",
            "int64",
            "idn-email",
            "idn-hostname",
            "date_time",
            "decimal",
        ]);
        for format in candidates {
            assert!(
                !known_at_run_time(format),
                "`{format}` is validated at run time: list it in VALIDATED"
            );
        }
    }
}
