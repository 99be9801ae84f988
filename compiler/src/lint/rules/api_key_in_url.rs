//! ## What it does
//! Flags `apiKey` security schemes that read the key from the URL (`in: query`). OpenAPI allows only
//! `header`, `query` and `cookie` for API keys, and specgate refuses anything else when compiling, so
//! `query` is the one URL location left.
//!
//! ## Why is this bad?
//! URLs are written to access logs, proxy and CDN logs, browser history and `Referer` headers. A key in
//! the query string ends up in all of them, readable by anyone with access to any of those places, and
//! API keys usually live for months.
//!
//! ## Example
//! ```yaml
//! components:
//!   securitySchemes:
//!     apiKey: {type: apiKey, in: query, name: api_key}
//! ```
//!
//! ## Use instead
//! ```yaml
//! components:
//!   securitySchemes:
//!     apiKey: {type: apiKey, in: header, name: X-API-Key}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API2: Broken Authentication
//! - CWE-598: Use of GET Request Method With Sensitive Query Strings

use specgate_plan::scheme::{ApiKeyLocation, SchemeKind};

use crate::diagnostic::Severity;
use crate::lint::rules::insecure_auth_scheme::{operations_using, schemes};
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG303",
            name: "api-key-in-url",
            severity: Severity::Error,
            summary: "An API key is read from the query string, where logs and Referer headers keep it.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for (name, scheme, node) in schemes(cx) {
            let SchemeKind::ApiKey {
                location: ApiKeyLocation::Query,
                name: parameter,
            } = &scheme.kind
            else {
                continue;
            };
            out.report(
                &node.child("in"),
                format!("API key scheme `{name}` reads the key from the query parameter `{parameter}`, so it is written wherever URLs are logged"),
                operations_using(cx, name),
            )
            .hint("use `in: header` (for example `name: X-API-Key`)");
        }
    }
}
