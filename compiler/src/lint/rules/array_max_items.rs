//! ## What it does
//! Flags array schemas in requests (parameters and bodies) with no `maxItems`: a schema with
//! `type: array`, or without a `type` but with `items` or `prefixItems`. An `enum` or `const`, or an
//! OpenAPI 3.1 tuple closed by `items: false` (or `unevaluatedItems: false`) also bounds it. Limits
//! given in any branch of an `allOf` count for the whole. Response schemas are not checked.
//!
//! ## Why is this bad?
//! A client can send an array of millions of elements in one request: every element is parsed,
//! validated, and then usually looped over, stored or fanned out by the service, costing memory, CPU
//! and database work out of proportion to one call.
//!
//! ## Example
//! ```yaml
//! tags:
//!   type: array
//!   items: {type: string, maxLength: 20}
//! ```
//!
//! ## Use instead
//! ```yaml
//! tags:
//!   type: array
//!   maxItems: 20
//!   items: {type: string, maxLength: 20}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-770: Allocation of Resources Without Limits or Throttling

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::context::Keywords;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG202",
            name: "array-max-items",
            severity: Severity::Warning,
            summary: "A request array has no maxItems.",
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
            let is_array = schema.has_type("array")
                || (!schema.contains_key("type")
                    && (schema.contains_key("items") || schema.contains_key("prefixItems")));
            if !is_array || is_bounded(schema) {
                continue;
            }
            out.report(
                &site.node,
                "this request array has no `maxItems`: a client can send any number of elements",
                labels(cx, &site.operations),
            )
            .hint("add `maxItems` with the largest count the operation needs");
        }
    }
}

fn is_bounded(schema: &Keywords) -> bool {
    let closed = |key: &str| schema.get(key) == Some(&Value::Bool(false));
    schema.contains_key("maxItems")
        || schema.contains_key("enum")
        || schema.contains_key("const")
        || (schema.contains_key("prefixItems") && (closed("items") || closed("unevaluatedItems")))
}
