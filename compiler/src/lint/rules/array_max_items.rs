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

use serde_json::{Map, Value};

use crate::diagnostic::Severity;
use crate::lint::context::Position;
use crate::lint::rules::string_max_length::merged_with_all_of;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, SchemaSite, labels};

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

    fn check(&self, cx: &LintContext, out: &mut Findings) {
        for site in cx.request_schemas() {
            let Some(schema) = whole(cx, site) else {
                continue;
            };
            let is_array = has_type(&schema, "array")
                || (!schema.contains_key("type")
                    && (schema.contains_key("items") || schema.contains_key("prefixItems")));
            if !is_array || is_bounded(&schema) {
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

fn is_bounded(schema: &Map<String, Value>) -> bool {
    let closed = |key: &str| schema.get(key) == Some(&Value::Bool(false));
    schema.contains_key("maxItems")
        || schema.contains_key("enum")
        || schema.contains_key("const")
        || (schema.contains_key("prefixItems") && (closed("items") || closed("unevaluatedItems")))
}

/// The keywords that hold for a site as a whole: its own (in OpenAPI 3.1 they apply beside a `$ref`),
/// then those of its `$ref` target and of its `allOf` branches. `None` for a site that is judged
/// through the schema composing it (an `allOf` branch, or a shared schema used only as one).
pub(crate) fn whole(cx: &LintContext, site: &SchemaSite) -> Option<Map<String, Value>> {
    if site.position == Position::AllOfBranch || site.composed_only {
        return None;
    }
    Some(with_own_keywords(cx, site))
}

/// The keywords of a site merged with those of its `$ref` target and `allOf` branches, the site's
/// own first. Unlike [`merged_with_all_of`] alone, keeps the siblings of a 3.1 `$ref`.
pub(crate) fn with_own_keywords(cx: &LintContext, site: &SchemaSite) -> Map<String, Value> {
    let mut merged = site.value().clone();
    for (key, value) in merged_with_all_of(cx, &site.node) {
        merged.entry(key).or_insert(value);
    }
    merged
}

/// Whether `type` is `name` or a list holding it.
pub(crate) fn has_type(schema: &Map<String, Value>, name: &str) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == name,
        Some(Value::Array(types)) => types.iter().any(|t| t == name),
        _ => false,
    }
}
