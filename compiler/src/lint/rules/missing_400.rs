//! ## What it does
//! Flags operations that take input (parameters, or a request body) but document neither a `400` nor a
//! `422` response (a `4XX` range counts). Operations that are `deny: true` are skipped.
//!
//! ## Why is this bad?
//! Every operation that takes input can refuse it, and specgate does: it validates parameters and bodies
//! against the spec and refuses what does not match with an `application/problem+json` error. A client
//! that does not know the operation answers 400 cannot tell a validation error from an outage, and
//! cannot show the user what to fix.
//!
//! ## Example
//! ```yaml
//! get:
//!   parameters:
//!     - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
//!   responses:
//!     "200": {description: ok}
//! ```
//!
//! ## Use instead
//! ```yaml
//!   responses:
//!     "200": {description: ok}
//!     "400": {$ref: "#/components/responses/BadRequest"}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API8: Security Misconfiguration
//! - CWE-20: Improper Input Validation

use crate::diagnostic::Severity;
use crate::lint::rules::missing_auth_responses::responses_of;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG403",
            name: "missing-400",
            severity: Severity::Warning,
            summary: "An operation takes input but documents no 400 or 422 response.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for (op, view) in cx.operations.iter().enumerate() {
            let has_input = !cx.parameters(op).is_empty() || cx.request_body(op).is_some();
            if view.plan.policy.deny
                || !has_input
                || cx.has_response(op, 400)
                || cx.has_response(op, 422)
            {
                continue;
            }
            out.report_key(
                &responses_of(view),
                format!(
                    "`{}` takes input but documents no 400 or 422 response",
                    view.label
                ),
                vec![view.label.clone()],
            )
            .hint(
                "add a 400 (or 422) response describing the error body returned for invalid input",
            );
        }
    }
}
