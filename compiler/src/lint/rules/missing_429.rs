//! ## What it does
//! Flags two things, each once:
//! - a rate-limited operation (an effective `x-security.rate-limits`) that documents no `429` response
//!   (a `4XX` range counts), at the operation's `responses`;
//! - a `429` response that declares no `Retry-After` header (names compared case-insensitively), at the
//!   response, listing every operation that uses it when it is shared.
//!
//! Operations that are `deny: true` are skipped.
//!
//! ## Why is this bad?
//! A client that does not expect 429 treats it as a failure, or worse retries at once and keeps the
//! limit hit. `Retry-After` tells it when to come back; without it clients guess, often too early.
//! specgate answers 429 with `Retry-After` for these operations, so the spec should say so.
//!
//! ## Example
//! ```yaml
//! x-security:
//!   rate-limits: [{limit: 60, window: 1m}]
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
//!         "200": {description: ok}
//!         "429":
//!           description: too many requests
//!           headers:
//!             Retry-After: {schema: {type: integer, minimum: 0}}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-770: Allocation of Resources Without Limits or Throttling

use crate::diagnostic::Severity;
use crate::lint::rules::credentials_in_url::Places;
use crate::lint::rules::missing_auth_responses::responses_of;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};
use crate::load::Node;

pub struct Check;

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG402",
            name: "missing-429",
            severity: Severity::Warning,
            summary: "A rate-limited operation documents no 429, or a 429 response has no Retry-After.",
        }
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let mut without_retry_after = Places::new();
        for (op, view) in cx.operations.iter().enumerate() {
            if view.plan.policy.deny {
                continue;
            }
            if !view.plan.policy.rate_limits.is_empty() && !cx.has_response(op, 429) {
                out.report_key(
                    &responses_of(view),
                    format!(
                        "`{}` is rate-limited but documents no 429 response",
                        view.label
                    ),
                    vec![view.label.clone()],
                )
                .hint("add a 429 response with a `Retry-After` header");
            }
            for (status, response) in cx.responses(op) {
                if status == "429" && !header_names(&response).iter().any(|h| h == "retry-after") {
                    without_retry_after.add(response, op, || ());
                }
            }
        }
        for (response, (), operations) in without_retry_after.into_items() {
            out.report_key(
                &response,
                "this 429 response declares no `Retry-After` header",
                labels(cx, &operations),
            )
            .hint("add `headers: {Retry-After: {schema: {type: integer, minimum: 0}}}` to say when to retry");
        }
    }
}

/// The header names a response object declares, lower-cased.
pub(crate) fn header_names(response: &Node) -> Vec<String> {
    response
        .value()
        .get("headers")
        .and_then(serde_json::Value::as_object)
        .map(|headers| headers.keys().map(|k| k.to_ascii_lowercase()).collect())
        .unwrap_or_default()
}
