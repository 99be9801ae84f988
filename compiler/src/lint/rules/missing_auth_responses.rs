//! ## What it does
//! Flags secured operations (some security alternative names a scheme) that do not document a `401`
//! and a `403` response. A `4XX` range counts for both; `default` does not, since it says nothing
//! about authentication. Operations that are `deny: true` are skipped. The finding sits on the
//! operation's `responses`, where the responses go.
//!
//! ## Why is this bad?
//! Clients and generated SDKs that do not know an operation can answer 401 (no or bad credentials) and
//! 403 (valid credentials, not allowed) handle them as generic failures: no token refresh, no clear
//! error for the user, retries that can never succeed. specgate itself answers 401 and 403 for this
//! operation, so the spec should say so.
//!
//! ## Example
//! ```yaml
//! get:
//!   security: [{bearerAuth: []}]
//!   responses:
//!     "200": {description: ok}
//! ```
//!
//! ## Use instead
//! ```yaml
//! get:
//!   security: [{bearerAuth: []}]
//!   responses:
//!     "200": {description: ok}
//!     "401": {$ref: "#/components/responses/Unauthorized"}
//!     "403": {$ref: "#/components/responses/Forbidden"}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API2: Broken Authentication
//! - CWE-1059: Insufficient Technical Documentation

use crate::diagnostic::Severity;
use crate::lint::context::OperationView;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};
use crate::load::Node;

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG401",
            name: "missing-auth-responses",
            severity: Severity::Warning,
            summary: "A secured operation documents no 401 or no 403 response.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for (op, view) in cx.operations.iter().enumerate() {
            let secured = view.plan.security.iter().any(|a| !a.is_empty());
            if view.plan.policy.deny || !secured {
                continue;
            }
            let missing: Vec<&str> = [(401, "401"), (403, "403")]
                .into_iter()
                .filter(|(status, _)| !cx.has_response(op, *status))
                .map(|(_, name)| name)
                .collect();
            let what = match missing.as_slice() {
                [] => continue,
                [one] => format!("{one} response"),
                _ => "401 or 403 response".to_owned(),
            };
            out.report_key(
                &responses_of(view),
                format!("`{}` requires credentials but documents no {what}", view.label),
                vec![view.label.clone()],
            )
            .hint("add 401 (missing or invalid credentials) and 403 (not allowed) responses, or a `4XX` response");
        }
    }
}

/// Where a finding about missing responses goes: the operation's `responses`, else the operation.
pub(crate) fn responses_of<'p>(view: &OperationView<'p>) -> Node<'p> {
    if view.node.value().get("responses").is_some() {
        view.node.child("responses")
    } else {
        view.node.clone()
    }
}
