//! ## What it does
//! Flags operations marked `deprecated: true` that specgate still serves, that is, that are not
//! `deny: true`.
//!
//! ## Why is this bad?
//! Deprecated operations are the forgotten part of an API: they keep old behaviour, old bugs and old,
//! weaker checks, get less testing and monitoring than their replacements, and attackers look for them
//! precisely for that. Until one is removed, it is as exposed as any other.
//!
//! ## Example
//! ```yaml
//! /v1/users/{id}:
//!   get:
//!     deprecated: true
//!     responses: {…}
//! ```
//!
//! ## Use instead
//! Remove the operation once its clients have moved, or keep it documented but refused at the edge:
//! ```yaml
//! /v1/users/{id}:
//!   get:
//!     deprecated: true
//!     x-security: {deny: true}
//!     responses: {…}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API9: Improper Inventory Management
//! - CWE-1059: Insufficient Technical Documentation

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG504",
            name: "deprecated-operation",
            severity: Severity::Info,
            summary: "A deprecated operation is still served (not `deny: true`).",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for view in &cx.operations {
            let deprecated = view.node.value().get("deprecated") == Some(&Value::Bool(true));
            if !deprecated || view.plan.policy.deny {
                continue;
            }
            out.report_key(
                &view.node,
                format!("`{}` is deprecated but still served", view.label),
                vec![view.label.clone()],
            )
            .hint("remove it once its clients have moved, or set `x-security: {deny: true}` so specgate refuses it");
        }
    }
}
