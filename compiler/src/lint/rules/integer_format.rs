//! ## What it does
//! Flags `integer` schemas in requests (parameters and bodies) without `format: int32` or
//! `format: int64`. A format given in any branch of an `allOf` counts for the whole. This is
//! Spectral's `owasp:api4:2023-integer-format`.
//!
//! ## Why is this bad?
//! Without a format, readers, SDK generators and the service may each pick a different integer
//! width: a value that fits one overflows or is truncated in another. specgate turns `int32` and
//! `int64` into bounds it enforces, so the value reaching the service fits the declared type.
//!
//! ## Example
//! ```yaml
//! quantity: {type: integer, minimum: 1, maximum: 1000}
//! ```
//!
//! ## Use instead
//! ```yaml
//! quantity: {type: integer, format: int32, minimum: 1, maximum: 1000}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-190: Integer Overflow or Wraparound

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG207",
            name: "integer-format",
            severity: Severity::Info,
            summary: "A request integer has no format (int32 or int64).",
        }
    }

    fn reads_schemas(&self) -> bool {
        true
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for site in cx.request_schemas() {
            let Some(schema) = site.whole(cx) else {
                continue;
            };
            let format = schema.get("format").and_then(Value::as_str);
            if !schema.has_type("integer") || matches!(format, Some("int32" | "int64")) {
                continue;
            }
            let message = match format {
                Some(other) => format!(
                    "this request integer has `format: {other}`, not `int32` or `int64`: its width is unstated"
                ),
                None => {
                    "this request integer has no `format`: its width (32 or 64 bits) is unstated"
                        .to_owned()
                }
            };
            out.report(&site.node, message, labels(cx, &site.operations))
                .hint("add `format: int32` or `format: int64`, matching the type the service stores it in");
        }
    }
}
