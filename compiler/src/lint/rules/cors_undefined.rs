//! ## What it does
//! Reports, once for the whole document, that it says nothing about CORS: no `x-security` at any level
//! (document, path item, operation) writes `cors`, and no response anywhere (operations' responses,
//! `components.responses`, `components.headers`) declares an `Access-Control-Allow-Origin` header
//! (case-insensitive). Writing `cors: null` on the document counts as a decision: no CORS.
//!
//! ## Why is this bad?
//! specgate answers CORS only when it is configured, so browsers on other origins are refused. When the
//! spec says nothing, teams that need a browser client tend to add CORS in the service or an ingress in a
//! hurry, frequently as "reflect any origin, allow credentials", which lets any web site call the API
//! with its visitors' cookies.
//!
//! ## Example
//! ```yaml
//! openapi: 3.0.3
//! paths: {…}          # no x-security.cors anywhere
//! ```
//!
//! ## Use instead
//! ```yaml
//! x-security:
//!   cors:
//!     origins: [https://app.example.com]
//!     max-age: 10m
//! ```
//! or `x-security: {cors: null}` to record that no browser on another origin may call the API.
//!
//! ## References
//! - OWASP API Security Top 10 2023, API8: Security Misconfiguration
//! - CWE-942: Permissive Cross-domain Policy with Untrusted Domains

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::rules::missing_429::header_names;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};
use crate::load::Node;

pub struct Check;

const ALLOW_ORIGIN: &str = "access-control-allow-origin";

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG503",
            name: "cors-undefined",
            severity: Severity::Info,
            summary: "The document configures no CORS and documents no Access-Control-Allow-Origin header.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let root = cx.spec.root();
        let configured = writes_cors(&root)
            || cx
                .operations
                .iter()
                .any(|view| writes_cors(&view.path_item) || writes_cors(&view.node));
        if configured {
            return;
        }
        let in_operations = (0..cx.operations.len()).any(|op| {
            cx.responses(op)
                .iter()
                .any(|(_, response)| header_names(response).iter().any(|h| h == ALLOW_ORIGIN))
        });
        let components = root.child("components");
        let in_components = members(&components.child("responses"))
            .into_iter()
            .any(|r| {
                cx.deref(&r)
                    .is_some_and(|r| header_names(&r).iter().any(|h| h == ALLOW_ORIGIN))
            })
            || components
                .value()
                .get("headers")
                .and_then(Value::as_object)
                .is_some_and(|headers| {
                    headers.keys().any(|k| k.eq_ignore_ascii_case(ALLOW_ORIGIN))
                });
        if in_operations || in_components {
            return;
        }
        out.report(
            &root,
            "the document says nothing about CORS: no `x-security.cors` and no `Access-Control-Allow-Origin` header",
            Vec::new(),
        )
        .hint("configure `x-security.cors` with the origins allowed to call from a browser, or write `cors: null` to say none may");
    }
}

/// Whether the `x-security` of a document, path item or operation writes `cors` (even `null`).
fn writes_cors(holder: &Node) -> bool {
    holder
        .value()
        .get("x-security")
        .and_then(Value::as_object)
        .is_some_and(|x| x.contains_key("cors"))
}

/// The members of a mapping node.
fn members<'s>(node: &Node<'s>) -> Vec<Node<'s>> {
    node.value()
        .as_object()
        .map(|m| m.keys().map(|k| node.child(k)).collect())
        .unwrap_or_default()
}
