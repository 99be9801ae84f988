//! ## What it does
//! Flags string parameters (path, query, header and cookie, and the elements of array parameters)
//! whose schema has none of `format`, `pattern`, `enum` or `const`. Keywords given in any branch of
//! an `allOf` count for the whole. Strings in request bodies are not checked: there they are too
//! often free text. This is Spectral's `owasp:api4:2023-string-restricted`.
//!
//! ## Why is this bad?
//! Parameters are identifiers, sort keys, filters and tokens: values with a known shape. Accepting
//! any text lets injection payloads, path tricks (`../`), control characters and oversized values
//! through to code that often splices parameters into queries, file paths and upstream URLs.
//!
//! ## Example
//! ```yaml
//! - name: sort
//!   in: query
//!   schema: {type: string, maxLength: 20}
//! ```
//!
//! ## Use instead
//! ```yaml
//! - name: sort
//!   in: query
//!   schema: {type: string, enum: [name, -name, created, -created]}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-20: Improper Input Validation

use std::collections::HashSet;

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};
use serde_json::Value;

use crate::load::{Dialect, Node};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG206",
            name: "string-restricted",
            severity: Severity::Info,
            summary: "A string parameter has no format, pattern, enum or const.",
        }
    }

    fn reads_schemas(&self) -> bool {
        true
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let parameter_values = parameter_value_schemas(cx);
        for site in cx.request_schemas() {
            if !parameter_values.contains(&std::ptr::from_ref(site.node.value())) {
                continue;
            }
            let Some(schema) = site.whole(cx) else {
                continue;
            };
            if !schema.has_type("string")
                || ["format", "pattern", "enum", "const"]
                    .iter()
                    .any(|k| schema.contains_key(k))
            {
                continue;
            }
            out.report(
                &site.node,
                "this parameter string has no `format`, `pattern`, `enum` or `const`: any text is accepted",
                labels(cx, &site.operations),
            )
            .hint("restrict it with an anchored `pattern` (`^…$`), a `format`, or an `enum` of the accepted values");
        }
    }
}

/// The schemas that describe parameter values: each parameter's `schema`, and its `items` when it
/// is an array, as the nodes [`LintContext::request_schemas`] gives them. A schema object is known by
/// its address in the spec's value tree (which nothing changes while linting): hashing a pointer
/// per site cost more than the rest of the rule.
fn parameter_value_schemas(cx: &LintContext) -> HashSet<*const Value> {
    let mut found = HashSet::new();
    for op in 0..cx.operations.len() {
        for parameter in cx.parameters(op) {
            if parameter.value().get("schema").is_none() {
                continue;
            }
            let schema = as_site(cx, parameter.child("schema"));
            let items = schema.child("items");
            if items.value().is_object() {
                found.insert(std::ptr::from_ref(as_site(cx, items).value()));
            }
            if schema.value().is_object() {
                found.insert(std::ptr::from_ref(schema.value()));
            }
        }
    }
    found
}

/// The node that stands for a schema among the sites: a `$ref` stands for its target, unless in
/// OpenAPI 3.1 keywords beside it make it a schema of its own.
fn as_site<'s>(cx: &LintContext<'s>, node: Node<'s>) -> Node<'s> {
    let Some(map) = node.value().as_object() else {
        return node;
    };
    let only_ref = map.contains_key("$ref")
        && (cx.spec.dialect == Dialect::V30
            || map
                .keys()
                .all(|k| matches!(k.as_str(), "$ref" | "description" | "summary")));
    if only_ref {
        cx.deref(&node).unwrap_or(node)
    } else {
        node
    }
}
