//! ## What it does
//! Flags request inputs that take a URL the service may fetch or redirect to: parameters (any location)
//! and request-body properties whose name suggests a URL, or whose schema says `format: uri`
//! (`uri-reference`, `iri`, `iri-reference`, `url`). A name suggests a URL when its last word is `url`,
//! `uri`, `href`, `callback`, `webhook` or `redirect` (`image_url`, `callbackUrl`, `redirect_uri`,
//! `webhook`), or it ends in `return to` or `redirect to` (`return_to`, `returnTo`, `redirectTo`).
//! Not flagged: inputs typed other than string, and inputs limited by `enum` or `const`. A body
//! property written as a bare `$ref` is not seen as a property, so its name is not checked.
//!
//! ## Why is this bad?
//! A service that fetches a client-supplied URL (webhooks, image imports, link previews) can be aimed at
//! internal hosts, cloud metadata endpoints (`169.254.169.254`) or local files: server-side request
//! forgery. Redirect targets taken from the request allow open redirects and token theft in OAuth flows.
//! The gateway cannot tell a safe URL from a dangerous one, so each of these inputs needs an allow-list
//! in the service.
//!
//! ## Example
//! ```yaml
//! properties:
//!   callbackUrl: {type: string, maxLength: 2048}
//! ```
//!
//! ## Use instead
//! ```yaml
//! properties:
//!   callbackUrl:
//!     type: string
//!     maxLength: 2048
//!     description: Must be an https URL on a host registered for the account; private addresses are refused.
//! ```
//! and check it in the service against an allow-list (resolve the host, refuse private, loopback and
//! link-local addresses, do not follow redirects). Silence the finding with `x-specgate-ignore` once
//! that is done, or restrict the value to known URLs with `enum`.
//!
//! ## References
//! - OWASP API Security Top 10 2023, API7: Server Side Request Forgery
//! - CWE-918: Server-Side Request Forgery (SSRF)

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::context::Keywords;
use crate::lint::context::Position;
use crate::lint::rules::credentials_in_url::{Places, words};
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

/// Formats that say a string is a URL.
const URL_FORMATS: &[&str] = &["uri", "uri-reference", "iri", "iri-reference", "url"];

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG502",
            name: "ssrf-url-parameter",
            severity: Severity::Warning,
            summary: "A request input takes a URL, which the service may fetch or redirect to (SSRF).",
        }
    }

    fn reads_schemas(&self) -> bool {
        true
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        let mut places = Places::new();
        for op in 0..cx.operations.len() {
            for (parameter, name, location) in cx.named_parameters(op) {
                let schema = cx
                    .deref(&parameter.child("schema"))
                    .and_then(|s| s.value().as_object())
                    .map(Keywords::of)
                    .unwrap_or_default();
                if takes_url(name, |k| schema.get(k)) {
                    let what = format!("{location} parameter `{name}`");
                    places.add(parameter.child("name"), op, || what);
                }
            }
        }
        for (node, what, operations) in places.into_items() {
            report(out, &node, &what, labels(cx, &operations), false);
        }
        for site in cx.request_schemas() {
            let Position::Property(name) = &site.position else {
                continue;
            };
            let schema = site.value();
            if takes_url(name, |k| schema.get(k)) {
                let what = format!("request property `{name}`");
                report(out, &site.node, &what, labels(cx, &site.operations), true);
            }
        }
    }
}

fn report<'s>(
    out: &mut Findings<'s>,
    node: &crate::load::Node<'s>,
    what: &str,
    operations: Vec<String>,
    at_key: bool,
) {
    let message = format!(
        "{what} takes a URL: if the service fetches or redirects to it, it can be aimed at internal hosts (SSRF)"
    );
    let finding = if at_key {
        out.report_key(node, message, operations)
    } else {
        out.report(node, message, operations)
    };
    finding.hint("check it in the service against an allow-list of hosts and refuse private addresses; list fixed URLs with `enum`");
}

/// Whether an input with this name and schema takes a URL (see the rule's documentation).
fn takes_url<'v>(name: &str, keyword: impl Fn(&str) -> Option<&'v Value>) -> bool {
    let string_or_untyped = match keyword("type") {
        None => true,
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        Some(_) => false,
    };
    if !string_or_untyped || keyword("enum").is_some() || keyword("const").is_some() {
        return false;
    }
    let url_format = keyword("format")
        .and_then(Value::as_str)
        .is_some_and(|f| URL_FORMATS.contains(&f));
    url_format || url_name(name)
}

/// Last words that name a URL on their own.
const URL_WORDS: &[&str] = &[
    "url", "uri", "urls", "uris", "href", "callback", "webhook", "redirect",
];
/// Last words that name one after `return` or `redirect` (`return_to`).
const AFTER_RETURN: &str = "to";
/// Single words that join two (`returnurl`, written without a case change or separator).
const JOINED_WORDS: &[&str] = &[
    "returnto",
    "redirectto",
    "returnurl",
    "redirecturl",
    "redirecturi",
    "callbackurl",
    "webhookurl",
];

fn url_name(name: &str) -> bool {
    // The last word ends the name: an ASCII name that ends in none of them needs no splitting.
    let tail = name.trim_end_matches(|c: char| !c.is_alphanumeric());
    let ends_with = |end: &&str| {
        tail.len() >= end.len() && tail[tail.len() - end.len()..].eq_ignore_ascii_case(end)
    };
    if name.is_ascii()
        && !(URL_WORDS.iter().any(ends_with)
            || ends_with(&AFTER_RETURN)
            || JOINED_WORDS.iter().any(ends_with))
    {
        return false;
    }
    let words = words(name);
    let Some(last) = words.last() else {
        return false;
    };
    let previous = words.len().checked_sub(2).map(|i| words[i].as_str());
    match last.as_str() {
        word if URL_WORDS.contains(&word) || JOINED_WORDS.contains(&word) => true,
        AFTER_RETURN => matches!(previous, Some("return" | "redirect")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::url_name;

    #[test]
    fn url_names_are_recognised() {
        for name in [
            "url",
            "image_url",
            "callbackUrl",
            "redirect_uri",
            "webhook",
            "return_to",
            "returnTo",
            "redirecturl",
            "href",
        ] {
            assert!(url_name(name), "{name}");
        }
        for name in [
            "curl",
            "urlencoded",
            "url_count",
            "webhook_id",
            "to",
            "callback_id",
        ] {
            assert!(!url_name(name), "{name}");
        }
    }
}
