//! ## What it does
//! Flags object schemas in requests (parameters and bodies, through `$ref`, `allOf`/`anyOf`/`oneOf`,
//! nested objects and array items) that accept properties they do not declare: `additionalProperties`
//! absent or `true`, and in OpenAPI 3.1 no enclosing `unevaluatedProperties: false` either.
//!
//! ## Why is this bad?
//! Mass assignment. A client can send `isAdmin: true` or `accountId` alongside the declared fields and a
//! service that binds the whole body to its model will store them. Spectral's OWASP ruleset only flags
//! an explicit `additionalProperties: true`, yet most request objects in real specs simply omit the
//! keyword, which is just as open.
//!
//! ## Example
//! ```yaml
//! UserUpdate:
//!   type: object
//!   properties:
//!     name: {type: string, maxLength: 100}
//! ```
//!
//! ## Use instead
//! ```yaml
//! UserUpdate:
//!   type: object
//!   additionalProperties: false
//!   properties:
//!     name: {type: string, maxLength: 100}
//! ```
//! In OpenAPI 3.1, `unevaluatedProperties: false` on the schema that combines branches with `allOf`
//! closes all of them. An intentional map (`additionalProperties` with a schema) is not flagged here
//! (see `unbounded-map`).
//!
//! ## References
//! - OWASP API Security Top 10 2023, API3: Broken Object Property Level Authorization
//! - CWE-915: Improperly Controlled Modification of Dynamically-Determined Object Attributes

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::context::Position;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG101",
            name: "open-request-object",
            severity: Severity::Error,
            summary: "A request object accepts undeclared properties (mass assignment).",
        }
    }

    fn reads_schemas(&self) -> bool {
        true
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for site in cx.request_schemas() {
            let schema = site.value();
            if site.closed_by_composition
                || site.composed_only
                || site.position == Position::AllOfBranch
                || !cx.is_object_schema(&site.node)
            {
                continue;
            }
            let closed_here = schema.get("unevaluatedProperties") == Some(&Value::Bool(false));
            let message = match schema.get("additionalProperties") {
                None if !closed_here => {
                    "this request object accepts any undeclared property (`additionalProperties` is absent)"
                }
                Some(Value::Bool(true)) if !closed_here => {
                    "this request object accepts any undeclared property (`additionalProperties: true`)"
                }
                _ => continue,
            };
            out.report(&site.node, message, labels(cx, &site.operations))
                .hint("add `additionalProperties: false` (or, in OpenAPI 3.1, `unevaluatedProperties: false` where branches are combined)");
        }
    }
}
