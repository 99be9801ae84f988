//! ## What it does
//! Flags operations with no effective security requirement that are not explicitly public. An
//! operation is explicitly public when it (or the document, for all operations) says `security: []`.
//!
//! ## Why is this bad?
//! An operation that simply has no `security` (and no document default) is usually an oversight: the
//! spec does not say who may call it, so neither the gateway nor a reader can tell whether anyone can.
//!
//! ## Example
//! ```yaml
//! paths:
//!   /users/{id}:
//!     delete:
//!       responses: {"204": {description: deleted}}
//! ```
//!
//! ## Use instead
//! ```yaml
//! security: [{bearerAuth: []}]      # the document's default
//! paths:
//!   /health:
//!     get:
//!       security: []                # explicitly public
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API2: Broken Authentication
//! - CWE-306: Missing Authentication for Critical Function

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG301",
            name: "no-security",
            severity: Severity::Error,
            summary: "An operation has no security requirement and is not explicitly public (`security: []`).",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let document_says = cx.spec.root().value().get("security").is_some();
        for view in &cx.operations {
            let operation_says = view.node.value().get("security").is_some();
            if view.plan.security.is_empty() && !operation_says && !document_says {
                out.report_key(&view.node, format!("`{}` has no security requirement and is not marked public", view.label), vec![view.label.clone()])
                    .hint("add `security` (or a document-level default), or `security: []` if the operation is meant to be public");
            }
        }
    }
}
