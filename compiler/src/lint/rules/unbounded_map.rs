//! ## What it does
//! Flags maps in requests (parameters and bodies): objects whose `additionalProperties` is a schema,
//! or in OpenAPI 3.1 whose `unevaluatedProperties` is a schema, with no `maxProperties`. Limits given
//! in any branch of an `allOf` count for the whole. Response schemas are not checked. An object left
//! open by an absent or `true` `additionalProperties` is `open-request-object`'s concern.
//!
//! ## Why is this bad?
//! A map accepts any key the client invents, and without `maxProperties` as many of them as fit in
//! the body: each entry is parsed, validated and usually stored (labels, metadata, settings), so one
//! request can make the service hold and persist an unbounded number of fields.
//!
//! ## Example
//! ```yaml
//! labels:
//!   type: object
//!   additionalProperties: {type: string, maxLength: 64}
//! ```
//!
//! ## Use instead
//! ```yaml
//! labels:
//!   type: object
//!   maxProperties: 32
//!   propertyNames: {maxLength: 32}
//!   additionalProperties: {type: string, maxLength: 64}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-770: Allocation of Resources Without Limits or Throttling

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG103",
            name: "unbounded-map",
            severity: Severity::Warning,
            summary: "A request map (additionalProperties given as a schema) has no maxProperties.",
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
            if schema.contains_key("maxProperties") {
                continue;
            }
            let keyword = ["additionalProperties", "unevaluatedProperties"]
                .into_iter()
                .find(|k| schema.get(k).is_some_and(Value::is_object));
            let Some(keyword) = keyword else {
                continue;
            };
            out.report(
                &site.node,
                format!("this request map (`{keyword}` with a schema) has no `maxProperties`: a client can send any number of entries"),
                labels(cx, &site.operations),
            )
            .hint("add `maxProperties` with the largest number of entries the operation needs");
        }
    }
}
