//! ## What it does
//! Flags operations with no effective rate limit: no `x-security.rate-limits` at the document, path
//! item or operation level, or an inner level that clears them with `rate-limits: []`. Operations that
//! are `deny: true` are skipped.
//!
//! ## Why is this bad?
//! Without a limit one client can call the operation as fast as the network allows: credential stuffing
//! and enumeration on login or lookup endpoints, scraping, and exhausting the service, its database or
//! paid third-party calls behind it.
//!
//! ## Example
//! ```yaml
//! paths:
//!   /login:
//!     post: {…}
//! ```
//!
//! ## Use instead
//! ```yaml
//! x-security:
//!   rate-limits:
//!     - {name: per-minute, limit: 120, window: 1m}      # every operation
//! paths:
//!   /login:
//!     post:
//!       x-security:
//!         rate-limits:
//!           - {name: login, limit: 5, window: 1m, key: ip}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-770: Allocation of Resources Without Limits or Throttling

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG205",
            name: "rate-limit-missing",
            severity: Severity::Warning,
            summary: "An operation has no effective rate limit.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for view in &cx.operations {
            let policy = &view.plan.policy;
            if policy.deny || !policy.rate_limits.is_empty() {
                continue;
            }
            out.report_key(
                &view.node,
                format!("`{}` has no rate limit", view.label),
                vec![view.label.clone()],
            )
            .hint("add `x-security.rate-limits` (on the document to cover every operation)");
        }
    }
}
