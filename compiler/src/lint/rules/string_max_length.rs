//! ## What it does
//! Flags string schemas in requests (parameters and bodies) with no `maxLength`, unless their length is
//! bounded another way: `enum`, `const`, a format of bounded length (`date`, `date-time`, `time`,
//! `uuid`, `ipv4`, `ipv6`, `byte` with a `maxLength` elsewhere…), or a `pattern` anchored at both ends
//! with no unbounded repetition. Limits given in any branch of an `allOf` count for the whole.
//! Response schemas are not checked: only what clients send needs a bound.
//!
//! ## Why is this bad?
//! An unbounded string lets a client send megabytes in one field: memory and CPU exhaustion in the
//! service, its logs and its database, and ReDoS against any regex applied to it.
//!
//! ## Example
//! ```yaml
//! name: {type: string}
//! ```
//!
//! ## Use instead
//! ```yaml
//! name: {type: string, maxLength: 100}
//! ```
//!
//! ## References
//! - OWASP API Security Top 10 2023, API4: Unrestricted Resource Consumption
//! - CWE-770: Allocation of Resources Without Limits or Throttling

use serde_json::Value;

use crate::diagnostic::Severity;
use crate::lint::context::Keywords;
use crate::lint::{Findings, LintContext, Rule, RuleMeta, labels};

pub struct Check;

/// Formats whose values have a bounded length.
const BOUNDED_FORMATS: &[&str] = &[
    "date",
    "date-time",
    "time",
    "uuid",
    "ipv4",
    "ipv6",
    "int32",
    "int64",
    "float",
    "double",
    "duration",
];

impl Rule for Check {
    fn meta(&self) -> RuleMeta {
        RuleMeta {
            code: "SG201",
            name: "string-max-length",
            severity: Severity::Warning,
            summary: "A request string has no maxLength (nor enum, const, bounded format or pattern).",
        }
    }

    fn reads_schemas(&self) -> bool {
        true
    }

    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>) {
        for site in cx.request_schemas() {
            let Some(merged) = site.whole(cx) else {
                continue;
            };
            if !merged.has_type("string") || is_bounded(merged) {
                continue;
            }
            out.report(&site.node, "this request string has no `maxLength`", labels(cx, &site.operations))
                .hint("add `maxLength` (or an `enum`, `const`, or a `format` such as `uuid` or `date-time`)");
        }
    }
}

fn is_bounded(schema: &Keywords) -> bool {
    schema.contains_key("maxLength")
        || schema.contains_key("enum")
        || schema.contains_key("const")
        || schema
            .get("format")
            .and_then(Value::as_str)
            .is_some_and(|f| BOUNDED_FORMATS.contains(&f))
        || schema
            .get("pattern")
            .and_then(Value::as_str)
            .is_some_and(pattern_bounds_length)
}

/// A pattern anchored at both ends whose repetitions are all bounded (`{m,n}`, `?`), so it caps length.
fn pattern_bounds_length(pattern: &str) -> bool {
    if !(pattern.starts_with('^') && pattern.ends_with('$')) || pattern.ends_with("\\$") {
        return false;
    }
    let bytes = pattern.as_bytes();
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' => escaped = true,
            b'*' | b'+' => return false,
            b'{' => {
                let rest = &pattern[i + 1..];
                let Some(end) = rest.find('}') else {
                    return false;
                };
                if rest[..end].ends_with(',') {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::pattern_bounds_length;

    #[test]
    fn anchored_bounded_patterns_bound_the_length() {
        assert!(pattern_bounds_length("^[a-z]{1,32}$"));
        assert!(pattern_bounds_length("^\\d{4}-\\d{2}$"));
        assert!(!pattern_bounds_length("^[a-z]+$"));
        assert!(!pattern_bounds_length("^[a-z]{1,}$"));
        assert!(!pattern_bounds_length("[a-z]{1,32}"));
        assert!(!pattern_bounds_length("^a\\*.*$"));
    }
}
