//! ## What it does
//! Flags token schemes that specgate verifies as JWTs (`http` `bearer` or `oauth2` with an
//! `x-security`, and every `openIdConnect` scheme, which discovery configures) but whose `x-security`
//! sets no `max-lifetime`. A bearer or oauth2 scheme with no `x-security` is left to `jwt-unverifiable`:
//! it accepts no token at all.
//!
//! ## Why is this bad?
//! Without a cap, the gateway accepts whatever `exp` the issuer (or a misconfigured client credential)
//! put in the token, even days or years ahead. A stolen token then stays useful for that long, and
//! revocation is rarely checked for JWTs. `max-lifetime` bounds `exp - iat`, so long-lived tokens are
//! refused whatever their signature.
//!
//! ## Example
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
//! ## Use instead
//! ```yaml
//!     x-security:
//!       issuer: https://idp.example.com/
//!       audiences: [my-api]
//!       jwks-uri: https://idp.example.com/.well-known/jwks.json
//!       max-lifetime: 1h
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API2: Broken Authentication
//! - CWE-613: Insufficient Session Expiration

use specgate_plan::scheme::Verification;

use crate::diagnostic::Severity;
use crate::lint::rules::insecure_auth_scheme::{operations_using, schemes};
use crate::lint::rules::jwt_unverifiable::jwt_kind;
use crate::lint::{Findings, LintContext, Rule, RuleMeta};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG309",
            name: "token-lifetime-unbounded",
            severity: Severity::Info,
            summary: "A JWT scheme sets no `max-lifetime`, so tokens of any lifetime are accepted.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for (name, scheme, node) in schemes(cx) {
            let (Some(kind), Some(Verification::Jwt(jwt))) =
                (jwt_kind(&scheme.kind), &scheme.verify)
            else {
                continue;
            };
            if jwt.max_lifetime.is_some() {
                continue;
            }
            let at = if node.value().get("x-security").is_some() {
                node.child("x-security")
            } else {
                node.clone()
            };
            out.report_key(
                &at,
                format!("{kind} scheme `{name}` sets no `max-lifetime`: a token is accepted however far ahead its `exp` lies"),
                operations_using(cx, name),
            )
            .hint("add `max-lifetime` to the scheme's `x-security` (for example `max-lifetime: 1h`)");
        }
    }
}
