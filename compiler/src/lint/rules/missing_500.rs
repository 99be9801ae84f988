//! ## What it does
//! Flags operations that document no `500` response (a `5XX` range counts; `default` does not, as in
//! Spectral's `owasp:api8:2023-define-error-responses-500`). Operations that are `deny: true` are
//! skipped.
//!
//! ## Why is this bad?
//! Every operation can fail on the server. When the spec does not describe that answer, services tend to
//! improvise one, often a framework's default page with a stack trace, versions or internal paths, and
//! clients cannot tell a server failure from a malformed reply.
//!
//! ## Example
//! ```yaml
//! responses:
//!   "200": {description: ok}
//! ```
//!
//! ## Use instead
//! ```yaml
//! responses:
//!   "200": {description: ok}
//!   "500": {$ref: "#/components/responses/ServerError"}   # a problem+json body, no internals
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API8: Security Misconfiguration
//! - CWE-209: Generation of Error Message Containing Sensitive Information

use crate::diagnostic::Severity;
use crate::lint::rules::missing_auth_responses::responses_of;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG405",
            name: "missing-500",
            severity: Severity::Info,
            summary: "An operation documents no 500 (or 5XX) response.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for (op, view) in cx.operations.iter().enumerate() {
            if view.plan.policy.deny || cx.has_response(op, 500) {
                continue;
            }
            out.report_key(
                &responses_of(view),
                format!("`{}` documents no 500 response", view.label),
                vec![view.label.clone()],
            )
            .hint(
                "add a 500 (or `5XX`) response with a generic error body that reveals no internals",
            );
        }
    }
}
