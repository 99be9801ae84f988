//! Reading `x-security` objects: each level checked where it is written, then levels merged key by key
//! (maps merge, lists and scalars replace, `[]` clears) over the built-in defaults.

use serde::de::DeserializeOwned;
use serde_json::Value;
use specgate_plan::Policy;

use crate::diagnostic::{Diagnostic, closest};
use crate::load::Node;

/// Deserializes the node into `T`, turning serde's complaint into a located diagnostic with a hint.
pub fn deserialize_at<T: DeserializeOwned>(node: &Node, what: &str) -> Result<T, Diagnostic> {
    let value = node.value().clone();
    serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let mut pointer = node.pointer.clone();
        for segment in error.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                Segment::Map { key } => {
                    pointer.push('/');
                    pointer.push_str(&specgate_plan::escape_pointer(key));
                }
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        let inner = error.into_inner().to_string();
        let at = crate::load::Node::at(node.file, node.file_id, &pointer);
        explain(&at, what, &inner)
    })
}

/// Rewrites serde's message into ours: unknown keys get a "did you mean", wrong types say what was found.
fn explain(at: &Node, what: &str, serde_message: &str) -> Diagnostic {
    if let Some(rest) = serde_message.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates = backticked(expected);
        let hint = match closest(key, candidates.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None if candidates.is_empty() => "remove it".to_owned(),
            None => format!("expected one of: {}", candidates.join(", ")),
        };
        // serde reports the unknown key itself as the last path segment; point at the key.
        return Diagnostic::error(
            "unknown-key",
            at.key_location(),
            format!("unknown key `{key}` in {what}"),
        )
        .with_hint(hint);
    }
    if let Some(rest) = serde_message.strip_prefix("unknown variant `") {
        let (value, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let candidates = backticked(expected);
        let hint = match closest(value, candidates.iter().copied()) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("expected one of: {}", candidates.join(", ")),
        };
        return Diagnostic::error(
            "invalid-value",
            at.location(),
            format!("`{value}` is not a valid value here"),
        )
        .with_hint(hint);
    }
    if let Some(rest) = serde_message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return Diagnostic::error(
            "missing-key",
            at.location(),
            format!("`{key}` is required in {what}"),
        );
    }
    Diagnostic::error(
        "invalid-value",
        at.location(),
        format!("{what}: {}", plain_words(serde_message)),
    )
}

/// serde's type names in the words of a spec author.
fn plain_words(serde_message: &str) -> String {
    serde_message
        .replace("invalid type: ", "")
        .replace("expected u32", "expected a whole number")
        .replace("expected u64", "expected a whole number")
        .replace("expected a boolean", "expected true or false")
        .replace("a sequence", "a list")
        .replace("expected a map", "expected a mapping")
}

fn backticked(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Checks one level's `x-security` (when present) and returns it for merging.
pub fn read_level(node: &Node) -> Result<Option<Value>, Diagnostic> {
    let value = node.value();
    if value.is_null() {
        return Ok(None);
    }
    if !value.is_object() {
        return Err(Diagnostic::error(
            "invalid-value",
            node.location(),
            "`x-security` must be a mapping",
        ));
    }
    deserialize_at::<Policy>(node, "x-security")?;
    Ok(Some(value.clone()))
}

/// Overlays `top` onto `base`: objects merge key by key, anything else replaces.
pub fn merge(base: &mut Value, top: &Value) {
    match (base, top) {
        (Value::Object(base), Value::Object(top)) => {
            for (key, value) in top {
                match base.get_mut(key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, top) => *base = top.clone(),
    }
}

/// The defaults as a value to merge levels onto.
pub fn defaults() -> Value {
    static DEFAULTS: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DEFAULTS
        .get_or_init(|| serde_json::to_value(Policy::default()).unwrap_or(Value::Null))
        .clone()
}

/// The effective policy of `levels` (outermost first), each already checked by [`read_level`].
/// `at` is where to report problems that only appear once the levels are combined.
pub fn effective(levels: &[&Value], at: &Node) -> Result<Policy, Diagnostic> {
    let mut merged = defaults();
    for level in levels {
        merge(&mut merged, level);
    }
    let policy: Policy = serde_json::from_value(merged).map_err(|e| {
        Diagnostic::error(
            "invalid-value",
            at.location(),
            format!("the combined x-security is invalid: {e}"),
        )
    })?;
    let invalid = |message: &str, hint: &str| {
        Err(Diagnostic::error("invalid-value", at.location(), message).with_hint(hint))
    };
    if policy.request.max_json_depth > specgate_plan::json::DEPTH_CEILING {
        return invalid(
            &format!(
                "`request.max-json-depth` is {}, over the ceiling of {}",
                policy.request.max_json_depth,
                specgate_plan::json::DEPTH_CEILING
            ),
            "no legitimate body nests that deep; 64 is the default",
        );
    }
    if policy.request.max_json_depth == 0 {
        return invalid(
            "`request.max-json-depth` is 0, which refuses every JSON body",
            "give the deepest nesting a valid body may have, such as 32",
        );
    }
    if policy.hosts == Some(specgate_plan::policy::Hosts::List(Vec::new())) {
        return invalid(
            "`hosts: []` would refuse every request",
            "write `hosts: null` to accept any host again, or list the accepted hosts",
        );
    }
    if let Some(cors) = &policy.cors {
        if cors.origins.is_empty() {
            return invalid(
                "`cors` needs at least one entry in `origins`",
                "list the origins allowed to call, such as https://app.example.com, or write `cors: null` to turn CORS off",
            );
        }
        if cors.credentials && cors.origins.iter().any(|o| o.is_any()) {
            return Err(Diagnostic::error("invalid-value", at.location(), "CORS `credentials: true` cannot be combined with the origin `*`")
                .with_hint("list the allowed origins explicitly; browsers refuse credentials with a wildcard origin"));
        }
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_merge_lists_and_scalars_replace() {
        let mut base = json!({"request": {"max-body": "1MiB", "verbose-errors": false}, "ip": {"allow": ["10.0.0.0/8"]}, "mode": "enforce"});
        merge(
            &mut base,
            &json!({"request": {"verbose-errors": true}, "ip": {"allow": []}, "mode": "monitor"}),
        );
        assert_eq!(
            base,
            json!({"request": {"max-body": "1MiB", "verbose-errors": true}, "ip": {"allow": []}, "mode": "monitor"})
        );
    }
}
