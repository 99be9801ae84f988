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

use serde_json::{Map, Value};

use crate::diagnostic::Severity;
use crate::lint::context::Position;
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

    fn check(&self, cx: &LintContext, out: &mut Findings) {
        for site in cx.request_schemas() {
            if site.position == Position::AllOfBranch || site.composed_only {
                continue;
            }
            let merged = merged_with_all_of(cx, &site.node);
            if !is_string(&merged) || is_bounded(&merged) {
                continue;
            }
            out.report(&site.node, "this request string has no `maxLength`", labels(cx, &site.operations))
                .hint("add `maxLength` (or an `enum`, `const`, or a `format` such as `uuid` or `date-time`)");
        }
    }
}

fn is_string(schema: &Map<String, Value>) -> bool {
    match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => false,
    }
}

/// The keywords of a schema together with those of its `allOf` branches and `$ref` target (in 3.1,
/// a `$ref`'s siblings apply too); the schema's own keywords come first.
pub(crate) fn merged_with_all_of(cx: &LintContext, node: &crate::load::Node) -> Map<String, Value> {
    let mut merged = Map::new();
    let mut stack = vec![(node.clone(), 0)];
    while let Some((node, depth)) = stack.pop() {
        let Some(map) = node.value().as_object() else {
            continue;
        };
        let has_ref = map.contains_key("$ref");
        let siblings_apply = !has_ref || cx.spec.dialect == crate::load::Dialect::V31;
        if siblings_apply {
            for (k, v) in map {
                if k != "$ref" {
                    merged.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
        if depth >= 8 {
            continue;
        }
        if has_ref && let Ok(target) = cx.spec.resolve(&node) {
            stack.push((target, depth + 1));
        }
        if siblings_apply {
            let branches = map
                .get("allOf")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            stack.extend(
                (0..branches).map(|i| (node.child("allOf").child(&i.to_string()), depth + 1)),
            );
        }
    }
    merged
}

fn is_bounded(schema: &Map<String, Value>) -> bool {
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
