//! Threat detection in decoded request values: which kinds to look for, and where.

use jsonschema::json::{Array, Json, Node, Object};
use serde_json::Value;
use specgate_plan::Plan;
use specgate_plan::policy::{ThreatAction, Threats};
use specgate_threats::{Detector, Kind, Kinds};

use super::denial::ThreatKind;

/// The kinds an operation refuses (`block`) and the ones it only logs (`log`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreatRules {
    pub block: Kinds,
    pub log: Kinds,
}

impl ThreatRules {
    pub fn new(threats: &Threats) -> Self {
        let mut rules = Self::default();
        for (kind, action) in [
            (Kind::SqlInjection, threats.sql_injection),
            (Kind::Xss, threats.xss),
            (Kind::PathTraversal, threats.path_traversal),
            (Kind::CommandInjection, threats.command_injection),
        ] {
            match action {
                ThreatAction::Block => rules.block = rules.block.with(kind),
                ThreatAction::Log => rules.log = rules.log.with(kind),
                ThreatAction::Off => {}
            }
        }
        rules
    }

    pub fn is_off(&self) -> bool {
        self.block.is_empty() && self.log.is_empty()
    }
}

/// What a scan of a request's values found: the first kind to refuse, the first kind to log.
#[derive(Debug, Default)]
pub struct Findings {
    pub block: Option<ThreatKind>,
    pub log: Option<ThreatKind>,
}

impl Findings {
    /// Scans every string in `node`, object keys included (they reach logs and pages too).
    pub fn scan<'a, F: Json, N: Node<'a, F>>(
        &mut self,
        detector: &Detector,
        rules: &ThreatRules,
        node: N,
    ) {
        if let Some(text) = node.as_string() {
            self.scan_str(detector, rules, &text);
        } else if let Some(items) = node.as_array() {
            for item in items.elements() {
                self.scan(detector, rules, item);
            }
        } else if let Some(members) = node.as_object() {
            for (name, item) in members.members() {
                self.scan_str(detector, rules, name.as_ref());
                self.scan(detector, rules, item);
            }
        }
    }

    /// Scans one string.
    pub fn scan_str(&mut self, detector: &Detector, rules: &ThreatRules, text: &str) {
        if self.block.is_none() && !rules.block.is_empty() {
            self.block = detector.scan(text, rules.block).map(kind_of);
        }
        if self.log.is_none() && !rules.log.is_empty() {
            self.log = detector.scan(text, rules.log).map(kind_of);
        }
    }
}

fn kind_of(kind: Kind) -> ThreatKind {
    match kind {
        Kind::SqlInjection => ThreatKind::SqlInjection,
        Kind::Xss => ThreatKind::Xss,
        Kind::PathTraversal => ThreatKind::PathTraversal,
        Kind::CommandInjection => ThreatKind::CommandInjection,
    }
}

/// Whether a schema pins its values so tightly that no injection fits (an enum, a const, a date or
/// uuid format, an anchored pattern): such values are not scanned, which spares their false positives.
pub fn pins_value(plan: &Plan, schema: Option<&Value>) -> bool {
    let Some(mut schema) = schema else {
        return false;
    };
    for _ in 0..8 {
        let Some(id) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix(specgate_plan::DEFS_PREFIX))
        else {
            break;
        };
        match plan.schemas.get(&specgate_plan::unescape_pointer(id)) {
            Some(target) => schema = target,
            None => return false,
        }
    }
    if schema.get("enum").is_some() || schema.get("const").is_some() {
        return true;
    }
    let pinned_format = schema
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| {
            matches!(
                f,
                "uuid" | "date" | "date-time" | "time" | "ipv4" | "ipv6" | "int32" | "int64"
            )
        });
    let anchored_pattern = schema
        .get("pattern")
        .and_then(Value::as_str)
        .is_some_and(|p| p.starts_with('^') && p.ends_with('$') && !p.contains(".*"));
    pinned_format || anchored_pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn findings_separate_blocked_and_logged_kinds() {
        let detector = Detector::new();
        let rules = ThreatRules::new(&Threats {
            xss: ThreatAction::Log,
            path_traversal: ThreatAction::Off,
            ..Threats::default()
        });
        let mut found = Findings::default();
        found.scan(
            &detector,
            &rules,
            &json!({"note": "<script>alert(1)</script>", "file": "../../etc/passwd"}),
        );
        assert_eq!(found.log, Some(ThreatKind::Xss));
        assert_eq!(found.block, None, "path traversal is off");
        found.scan(&detector, &rules, &json!(["x", {"' OR '1'='1' --": 1}]));
        assert_eq!(
            found.block,
            Some(ThreatKind::SqlInjection),
            "keys are scanned"
        );
    }

    #[test]
    fn pinned_schemas_are_recognised() {
        for (schema, pinned) in [
            (json!({"type": "string", "enum": ["a", "b"]}), true),
            (json!({"type": "string", "format": "uuid"}), true),
            (json!({"type": "string", "pattern": "^[a-z]{2,8}$"}), true),
            (json!({"type": "string", "pattern": "^.*$"}), false),
            (json!({"type": "string", "format": "email"}), false),
            (json!({"type": "string", "maxLength": 10}), false),
        ] {
            let plan = crate::engine::empty_plan();
            assert_eq!(pins_value(&plan, Some(&schema)), pinned, "{schema}");
        }
    }
}
