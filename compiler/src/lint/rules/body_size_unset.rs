//! ## What it does
//! Flags operations with a request body when no level of `x-security` (document, path item, operation)
//! writes `request.max-body`: specgate then applies its built-in default of 1MiB, which nobody chose.
//! Operations that are `deny: true` are skipped (they never receive a body).
//!
//! ## Why is this bad?
//! The right limit depends on the operation: 1MiB is far too much for a login form and too little for a
//! file upload. An unchosen limit either leaves room for memory and storage exhaustion or breaks
//! legitimate clients in production, and the spec does not tell readers which.
//!
//! ## Example
//! ```yaml
//! paths:
//!   /pets:
//!     post:
//!       requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Pet"}}}}
//! ```
//!
//! ## Use instead
//! ```yaml
//! x-security:
//!   request: {max-body: 64KiB}          # default for every operation
//! paths:
//!   /pets/{id}/photo:
//!     put:
//!       x-security:
//!         request: {max-body: 8MiB}     # this one takes images
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-770: Allocation of Resources Without Limits or Throttling

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};
use crate::load::Node;

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG204",
            name: "body-size-unset",
            severity: Severity::Warning,
            summary: "An operation takes a request body but no x-security sets `request.max-body`.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let document_sets = sets_max_body(&cx.spec.root());
        for (op, view) in cx.operations.iter().enumerate() {
            if view.plan.policy.deny
                || cx.request_body(op).is_none()
                || document_sets
                || sets_max_body(&view.path_item)
                || sets_max_body(&view.node)
            {
                continue;
            }
            out.report_key(
                &view.node,
                format!("`{}` takes a request body but no `x-security` sets `request.max-body`, so the built-in 1MiB default applies", view.label),
                vec![view.label.clone()],
            )
            .hint("set `x-security: {request: {max-body: …}}` to the largest body the operation needs (on the document for a default)");
        }
    }
}

/// Whether the `x-security` of a document, path item or operation writes `request.max-body`.
fn sets_max_body(holder: &Node) -> bool {
    holder
        .value()
        .get("x-security")
        .and_then(|x| x.get("request"))
        .and_then(Value::as_object)
        .is_some_and(|request| request.contains_key("max-body"))
}
