//! ## What it does
//! Flags a document that declares no `servers` (or an empty list) while some of its operations get none
//! from their path item or themselves either. When every operation has its own `servers`, the inventory
//! is complete and nothing is reported.
//!
//! ## Why is this bad?
//! `servers` is the API's inventory: which hosts and versions exist, and which one this spec describes.
//! Without it, old or forgotten deployments go unnoticed and clients guess base URLs. specgate routes
//! under the path of the declared servers; with none it matches the spec's paths at the root, and
//! `hosts: from-servers` has no host to accept.
//!
//! ## Example
//! ```yaml
//! openapi: 3.0.3
//! info: {title: Pets, version: "1"}
//! paths: {…}
//! ```
//!
//! ## Use instead
//! ```yaml
//! openapi: 3.0.3
//! info: {title: Pets, version: "1"}
//! servers:
//!   - url: https://api.example.com/v1
//!     description: production
//! paths: {…}
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
            code: "SG308",
            name: "no-servers",
            severity: Severity::Info,
            summary: "The document declares no `servers`, so the API's hosts and versions are not inventoried.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let root = cx.spec.root();
        let declared = root
            .value()
            .get("servers")
            .and_then(Value::as_array)
            .is_some_and(|s| !s.is_empty());
        if declared {
            return;
        }
        let without: Vec<String> = cx
            .operations
            .iter()
            .filter(|view| view.plan.servers.is_empty())
            .map(|view| view.label.clone())
            .collect();
        if without.is_empty() {
            return;
        }
        out.report(&root, "the document declares no `servers`", without)
            .hint("list the API's deployments under `servers` (for example `- url: https://api.example.com/v1`)");
    }
}
