//! ## What it does
//! Flags operations with a request body that document no `413` response (a `4XX` range counts).
//! Operations that are `deny: true` are skipped.
//!
//! ## Why is this bad?
//! specgate refuses bodies larger than `request.max-body` with 413 while they stream in. A client that
//! does not expect it retries the same oversized upload, or reports a puzzling failure instead of
//! telling the user the file is too large.
//!
//! ## Example
//! ```yaml
//! post:
//!   requestBody: {content: {application/json: {schema: {$ref: "#/components/schemas/Pet"}}}}
//!   responses:
//!     "201": {description: created}
//! ```
//!
//! ## Use instead
//! ```yaml
//!   responses:
//!     "201": {description: created}
//!     "413": {description: the body is larger than the operation accepts}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-770: Allocation of Resources Without Limits or Throttling

use crate::diagnostic::Severity;
use crate::lint::rules::missing_auth_responses::responses_of;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG404",
            name: "missing-413",
            severity: Severity::Info,
            summary: "An operation takes a request body but documents no 413 response.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for (op, view) in cx.operations.iter().enumerate() {
            if view.plan.policy.deny || cx.request_body(op).is_none() || cx.has_response(op, 413) {
                continue;
            }
            out.report_key(
                &responses_of(view),
                format!(
                    "`{}` takes a request body but documents no 413 response",
                    view.label
                ),
                vec![view.label.clone()],
            )
            .hint(
                "add a 413 response: specgate answers 413 when a body exceeds `request.max-body`",
            );
        }
    }
}
