//! ## What it does
//! Flags `integer` and `number` schemas in requests (parameters and bodies) that lack a lower bound
//! (`minimum` or a numeric `exclusiveMinimum`) or an upper bound (`maximum` or a numeric
//! `exclusiveMaximum`). An `enum` or `const` bounds the value too; `format: int32`/`int64` does not
//! count, as it only gives the range of the machine type. Limits given in any branch of an `allOf`
//! count for the whole. Response schemas are not checked.
//!
//! ## Why is this bad?
//! Out-of-range numbers reach the service: a `limit=1000000000` page size or a negative quantity,
//! an amount that overflows once multiplied, a count that sizes an allocation or a loop. The range the
//! business accepts is known when the spec is written, and the gateway can enforce it for free.
//!
//! ## Example
//! ```yaml
//! - name: limit
//!   in: query
//!   schema: {type: integer, format: int32}
//! ```
//!
//! ## Use instead
//! ```yaml
//! - name: limit
//!   in: query
//!   schema: {type: integer, format: int32, minimum: 1, maximum: 100}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-1284: Improper Validation of Specified Quantity in Input

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::context::Keywords;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG203",
            name: "number-bounds",
            severity: Severity::Warning,
            summary: "A request integer or number lacks a minimum or a maximum.",
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
            let kind = if schema.has_type("integer") {
                "integer"
            } else if schema.has_type("number") {
                "number"
            } else {
                continue;
            };
            if schema.contains_key("enum") || schema.contains_key("const") {
                continue;
            }
            let lower = bounded(schema, "minimum", "exclusiveMinimum");
            let upper = bounded(schema, "maximum", "exclusiveMaximum");
            let missing = match (lower, upper) {
                (true, true) => continue,
                (false, true) => "no lower bound (`minimum`)",
                (true, false) => "no upper bound (`maximum`)",
                (false, false) => "neither a `minimum` nor a `maximum`",
            };
            let mut message = format!("this request {kind} has {missing}");
            if let Some(format) = schema.get("format").and_then(Value::as_str)
                && matches!(format, "int32" | "int64")
            {
                message.push_str(&format!(
                    "; `format: {format}` only limits it to the range of that type"
                ));
            }
            out.report(&site.node, message, labels(cx, &site.operations))
                .hint("add `minimum` and `maximum` with the range the operation accepts (or an `enum`)");
        }
    }
}

/// Whether the inclusive keyword is present or the exclusive one is a number (in OpenAPI 3.0 a
/// boolean `exclusiveMinimum` only modifies `minimum`).
fn bounded(schema: &Keywords, inclusive: &str, exclusive: &str) -> bool {
    schema.get(inclusive).is_some_and(Value::is_number)
        || schema.get(exclusive).is_some_and(Value::is_number)
}
