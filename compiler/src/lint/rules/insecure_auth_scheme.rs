//! ## What it does
//! Flags `http` security schemes whose credentials are weak or replayable: `basic`, `digest`,
//! `negotiate`, `ntlm` and `oauth` (OAuth 1.0 signatures). Schemes are checked whether or not an
//! operation uses them: a declared scheme invites clients to implement it.
//!
//! ## Why is this bad?
//! `basic` sends the password itself with every request, only base64-encoded: anything that logs or
//! intercepts a request gets a long-lived credential. `digest` rests on MD5 and lets a server store
//! passwords in a recoverable form; `negotiate`/`ntlm` bring Windows domain credentials to the web and are
//! open to relay attacks; OAuth 1.0 was replaced by OAuth 2.0. specgate cannot verify any of them, so it
//! refuses every request that needs one (fail closed).
//!
//! ## Example
//! ```yaml
//! components:
//!   securitySchemes:
//!     basicAuth: {type: http, scheme: basic}
//! ```
//!
//! ## Use instead
//! ```yaml
//! components:
//!   securitySchemes:
//!     bearerAuth:
//!       type: http
//!       scheme: bearer
//!       x-security:
//!         issuer: https://idp.example.com/
//!         audiences: [my-api]
//!         jwks-uri: https://idp.example.com/.well-known/jwks.json
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API2: Broken Authentication
//! - CWE-522: Insufficiently Protected Credentials

use specgate_plan::SecurityScheme;
use specgate_plan::scheme::SchemeKind;

use crate::diagnostic::Severity;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};
use crate::load::Node;

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG302",
            name: "insecure-auth-scheme",
            severity: Severity::Error,
            summary: "A security scheme uses http basic, digest, negotiate or OAuth 1.0 credentials.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for (name, scheme, node) in schemes(cx) {
            let SchemeKind::Http { scheme: http } = &scheme.kind else {
                continue;
            };
            let why = match http.as_str() {
                "basic" => "sends the password with every request, only base64-encoded",
                "digest" => "rests on MD5 and a password the server must be able to recover",
                "negotiate" | "ntlm" => {
                    "brings Windows domain credentials to the web, open to relay attacks"
                }
                "oauth" => "is OAuth 1.0, superseded by OAuth 2.0 bearer tokens",
                _ => continue,
            };
            let at = if node.value().get("scheme").is_some() {
                node.child("scheme")
            } else {
                node.clone()
            };
            out.report(
                &at,
                format!("security scheme `{name}` uses http `{http}`, which {why}"),
                operations_using(cx, name),
            )
            .hint("use a bearer (JWT), oauth2, openIdConnect or mutualTLS scheme; specgate refuses every request that needs this one");
        }
    }
}

/// Every security scheme that compiled: its name, its plan entry and its spec object (dereferenced).
/// Shared by the other scheme rules.
pub(crate) fn schemes<'p>(cx: &LintContext<'p>) -> Vec<(&'p str, &'p SecurityScheme, Node<'p>)> {
    let declared = cx.spec.root().child("components").child("securitySchemes");
    cx.plan
        .security_schemes
        .iter()
        .filter_map(|(name, scheme)| {
            let node = cx.deref(&declared.child(name))?;
            Some((name.as_str(), scheme, node))
        })
        .collect()
}

/// The labels of the operations whose effective security names the scheme.
pub(crate) fn operations_using(cx: &LintContext, name: &str) -> Vec<String> {
    cx.operations
        .iter()
        .filter(|view| {
            view.plan
                .security
                .iter()
                .any(|alternative| alternative.contains_key(name))
        })
        .map(|view| view.label.clone())
        .collect()
}
