//! ## What it does
//! Flags token schemes (`http` `bearer`, `oauth2`, `openIdConnect`) whose `x-security` does not pin
//! everything a JWT must be checked against: an `issuer`, the `audiences`, and a key source (`jwks-uri`,
//! `jwks-file`, `jwks` or `secret-env`). An `openIdConnect` scheme's discovery document
//! (`openIdConnectUrl`) gives the issuer and the keys, so only `audiences` is asked of it. One finding
//! per scheme names everything missing. A bearer or oauth2 scheme with no `x-security` at all is flagged
//! too: specgate has nothing to verify its tokens with and refuses every request that needs it.
//!
//! ## Why is this bad?
//! Without an issuer, a token signed by any issuer whose keys are accepted passes; without audiences, a
//! token minted for another API of the same identity provider passes here too (token substitution).
//! Without a key source nothing can be verified, so the scheme refuses everyone: the API is secure but
//! does not work.
//!
//! ## Example
//! ```yaml
//! bearerAuth:
//!   type: http
//!   scheme: bearer
//!   x-security:
//!     jwks-uri: https://idp.example.com/.well-known/jwks.json
//! ```
//!
//! ## Use instead
//! ```yaml
//! bearerAuth:
//!   type: http
//!   scheme: bearer
//!   x-security:
//!     issuer: https://idp.example.com/
//!     audiences: [my-api]
//!     jwks-uri: https://idp.example.com/.well-known/jwks.json
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API2: Broken Authentication
//! - CWE-287: Improper Authentication

use specgate_plan::scheme::{SchemeKind, Verification};

use crate::diagnostic::Severity;
use crate::lint::rules::insecure_auth_scheme::{operations_using, schemes};
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG305",
            name: "jwt-unverifiable",
            severity: Severity::Warning,
            summary: "A token scheme does not pin the issuer, the audiences or a key source in x-security.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for (name, scheme, node) in schemes(cx) {
            let Some(kind) = jwt_kind(&scheme.kind) else {
                continue;
            };
            let jwt = match &scheme.verify {
                Some(Verification::Jwt(jwt)) => jwt,
                None => {
                    out.report_key(
                        &node,
                        format!("{kind} scheme `{name}` has no `x-security`: specgate has nothing to verify its tokens with and refuses every request that needs it"),
                        operations_using(cx, name),
                    )
                    .hint("add `x-security` with `issuer`, `audiences` and a key source such as `jwks-uri`");
                    continue;
                }
                Some(_) => continue,
            };
            let discovery = jwt.discovery_url.is_some();
            let mut missing = Vec::new();
            let mut accepted = Vec::new();
            if jwt.issuer.is_empty() && !discovery {
                missing.push("no `issuer`");
                accepted.push("tokens from any issuer");
            }
            if jwt.audiences.is_empty() {
                missing.push("no `audiences`");
                accepted.push("tokens minted for other APIs");
            }
            let effect = if !jwt.has_key_source() {
                missing.push("no key source");
                "no key can check a signature, so every token is refused".to_owned()
            } else if accepted.is_empty() {
                continue;
            } else {
                format!("it accepts {}", join(&accepted))
            };
            let at = if node.value().get("x-security").is_some() {
                node.child("x-security")
            } else {
                node.clone()
            };
            out.report_key(
                &at,
                format!(
                    "{kind} scheme `{name}` sets {}: {effect}",
                    join(&missing)
                ),
                operations_using(cx, name),
            )
            .hint(if discovery {
                "add `audiences` to the scheme's `x-security` (its discovery document gives the issuer and the keys)"
            } else {
                "set `issuer`, `audiences` and one of `jwks-uri`, `jwks-file`, `jwks` or `secret-env` in the scheme's `x-security`"
            });
        }
    }
}

/// How a scheme whose tokens are JWTs is called in messages, or `None` for other schemes.
pub(crate) fn jwt_kind(kind: &SchemeKind) -> Option<&'static str> {
    match kind {
        SchemeKind::Http { scheme } if scheme == "bearer" => Some("bearer"),
        SchemeKind::Oauth2 => Some("oauth2"),
        SchemeKind::OpenIdConnect { .. } => Some("openIdConnect"),
        _ => None,
    }
}

/// `a`, `a and b`, `a, b and c`.
fn join(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}
