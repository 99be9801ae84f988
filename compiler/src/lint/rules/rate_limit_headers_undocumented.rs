//! ## What it does
//! Flags the success (`2XX`) responses of rate-limited operations that declare none of the rate-limit
//! headers specgate sends: `RateLimit`, `RateLimit-Policy` (IETF), `RateLimit-Limit`,
//! `RateLimit-Remaining`, `RateLimit-Reset`, or any `X-RateLimit-*` (names compared
//! case-insensitively). A response shared by several operations gives one finding listing them.
//! Skipped: operations that are `deny: true`, and those with `rate-limit-headers: false`, since specgate
//! then hides these headers.
//!
//! ## Why is this bad?
//! Clients that can see their remaining quota slow down before they hit the limit; clients that cannot
//! find out by getting 429s. Documenting the headers lets SDKs and client developers use them.
//!
//! ## Example
//! ```yaml
//! x-security:
//!   rate-limits: [{name: per-minute, limit: 60, window: 1m}]
//! paths:
//!   /pets:
//!     get:
//!       responses:
//!         "200": {description: ok}
//! ```
//!
//! ## Use instead
//! ```yaml
//!       responses:
//!         "200":
//!           description: ok
//!           headers:
//!             RateLimit: {schema: {type: string}}
//!             RateLimit-Policy: {schema: {type: string}}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-770: Allocation of Resources Without Limits or Throttling

use crate::diagnostic::Severity;
use crate::lint::rules::credentials_in_url::Places;
use crate::lint::rules::missing_429::header_names;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG406",
            name: "rate-limit-headers-undocumented",
            severity: Severity::Info,
            summary: "A success response of a rate-limited operation declares no rate-limit headers.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let mut places = Places::new();
        for (op, view) in cx.operations.iter().enumerate() {
            let policy = &view.plan.policy;
            if policy.deny || policy.rate_limits.is_empty() || !policy.rate_limit_headers {
                continue;
            }
            for (status, response) in cx.responses(op) {
                if status.starts_with('2')
                    && !header_names(&response)
                        .iter()
                        .any(|h| is_rate_limit_header(h))
                {
                    places.add(response, op, || status);
                }
            }
        }
        for (response, status, operations) in places.into_items() {
            out.report_key(
                &response,
                format!("this {status} response of a rate-limited operation declares no rate-limit headers"),
                labels(cx, &operations),
            )
            .hint("declare the `RateLimit` and `RateLimit-Policy` headers specgate adds (or set `rate-limit-headers: false` to hide them)");
        }
    }
}

/// Whether a lower-cased header name is one of the rate-limit headers.
fn is_rate_limit_header(name: &str) -> bool {
    name == "ratelimit"
        || name.starts_with("ratelimit-")
        || name == "x-ratelimit"
        || name.starts_with("x-ratelimit-")
}
