//! OpenAPI schemas (3.0 dialect or 3.1's JSON Schema 2020-12) to plan schemas: JSON Schema 2020-12 for
//! the request direction, with every `$ref` rewritten to a shared schema id.
//!
//! - 3.0 `nullable: true` becomes a `"null"` type (or an `anyOf` with `{"type": "null"}`).
//! - 3.0 boolean `exclusiveMinimum`/`exclusiveMaximum` become the numeric 2020-12 keywords.
//! - `format: int32`/`int64` on integers become `minimum`/`maximum` bounds, which validators enforce.
//! - A property marked `readOnly` is refused (`false`) and dropped from `required`: requests must not
//!   send it, and the spec's `required` applies to responses only.
//! - `discriminator` with `oneOf`/`anyOf` of references also requires the discriminating property to
//!   hold one of the known values.
//! - 3.0 ignores keywords beside `$ref`; 3.1 applies them.
//! - Annotations a validator never reads (descriptions, examples, `xml`, extensions) are dropped.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};
use specgate_plan::DEFS_PREFIX;

use crate::diagnostic::Diagnostic;
use crate::load::{Dialect, FileId, Node, Spec};

/// Keywords whose value is one subschema.
pub(crate) const ONE: &[&str] = &[
    "additionalProperties",
    "unevaluatedProperties",
    "items",
    "additionalItems",
    "contains",
    "propertyNames",
    "not",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "contentSchema",
];
/// Keywords whose value is a list of subschemas.
pub(crate) const LIST: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to subschemas.
pub(crate) const MAP: &[&str] = &["properties", "patternProperties", "dependentSchemas"];
/// Keywords a request validator has no use for.
const DROPPED: &[&str] = &[
    "description",
    "title",
    "example",
    "examples",
    "externalDocs",
    "xml",
    "deprecated",
    "$comment",
    "$schema",
    "$id",
    "$anchor",
    "$dynamicAnchor",
    "$defs",
    "definitions",
    "readOnly",
    "writeOnly",
    "nullable",
    "discriminator",
];

pub struct SchemaCompiler<'s> {
    spec: &'s Spec,
    ids: HashMap<(FileId, String), String>,
    taken: HashSet<String>,
    schemas: BTreeMap<String, Value>,
    queue: Vec<(String, Node<'s>)>,
}

impl<'s> SchemaCompiler<'s> {
    pub fn new(spec: &'s Spec) -> Self {
        Self {
            spec,
            ids: HashMap::new(),
            taken: HashSet::new(),
            schemas: BTreeMap::new(),
            queue: Vec::new(),
        }
    }

    /// Converts the schema at `node`; shared schemas it refers to are queued for [`Self::finish`].
    pub fn convert(&mut self, node: &Node<'s>) -> Result<Value, Diagnostic> {
        self.convert_at(node, 0)
    }

    /// Converts every shared schema reached so far (and those they reach), returning them by id.
    pub fn finish(mut self) -> Result<BTreeMap<String, Value>, Diagnostic> {
        while let Some((id, node)) = self.queue.pop() {
            let converted = self.convert_at(&node, 0)?;
            self.schemas.insert(id, converted);
        }
        Ok(self.schemas)
    }

    fn convert_at(&mut self, node: &Node<'s>, depth: usize) -> Result<Value, Diagnostic> {
        if depth > self.spec.limits().max_depth {
            return Err(Diagnostic::error(
                "schema-depth",
                node.location(),
                "schema nests too deeply",
            ));
        }
        let value = node.value();
        let map = match value {
            Value::Bool(_) => return Ok(value.clone()),
            Value::Object(map) => map,
            other => {
                return Err(Diagnostic::error(
                    "invalid-schema",
                    node.location(),
                    format!("a schema must be a mapping, not {}", kind(other)),
                ));
            }
        };
        let v30 = self.spec.dialect == Dialect::V30;
        if map.contains_key("$ref") {
            let reference = self.reference(node)?;
            if v30
                || map
                    .keys()
                    .all(|k| k == "$ref" || DROPPED.contains(&k.as_str()) || k.starts_with("x-"))
            {
                return Ok(reference);
            }
            let mut out = self.keywords(node, map, depth)?;
            out.insert("$ref".into(), reference["$ref"].clone());
            return Ok(Value::Object(out));
        }
        let out = self.keywords(node, map, depth)?;
        let mut schema = Value::Object(out);
        if v30 && map.get("nullable") == Some(&Value::Bool(true)) {
            schema = make_nullable(schema);
        }
        Ok(schema)
    }

    /// Converts every keyword of a schema object except `$ref`.
    fn keywords(
        &mut self,
        node: &Node<'s>,
        map: &Map<String, Value>,
        depth: usize,
    ) -> Result<Map<String, Value>, Diagnostic> {
        let v30 = self.spec.dialect == Dialect::V30;
        let read_only = self.read_only_properties(node, map)?;
        let mut out = Map::new();
        for (key, value) in map {
            let key_str = key.as_str();
            if key_str == "$ref" || DROPPED.contains(&key_str) || key_str.starts_with("x-") {
                continue;
            }
            let child = node.child(key);
            let is_tuple = key_str == "items" && value.is_array();
            let converted = if ONE.contains(&key_str) && !is_tuple {
                if !value.is_object() && !value.is_boolean() {
                    return Err(Diagnostic::error(
                        "invalid-schema",
                        child.location(),
                        format!("`{key}` must be a schema, not {}", kind(value)),
                    ));
                }
                self.convert_at(&child, depth + 1)?
            } else if LIST.contains(&key_str) || is_tuple {
                let Value::Array(items) = value else {
                    return Err(Diagnostic::error(
                        "invalid-schema",
                        child.location(),
                        format!("`{key}` must be a list of schemas"),
                    ));
                };
                let mut list = Vec::with_capacity(items.len());
                for i in 0..items.len() {
                    list.push(self.convert_at(&child.child(&i.to_string()), depth + 1)?);
                }
                Value::Array(list)
            } else if MAP.contains(&key_str) {
                let Value::Object(members) = value else {
                    return Err(Diagnostic::error(
                        "invalid-schema",
                        child.location(),
                        format!("`{key}` must map names to schemas"),
                    ));
                };
                let mut converted = Map::new();
                for name in members.keys() {
                    let schema = if key_str == "properties" && read_only.contains(name) {
                        Value::Bool(false)
                    } else {
                        self.convert_at(&child.child(name), depth + 1)?
                    };
                    converted.insert(name.clone(), schema);
                }
                Value::Object(converted)
            } else if key_str == "required" && !read_only.is_empty() {
                match value {
                    Value::Array(names) => Value::Array(
                        names
                            .iter()
                            .filter(|n| n.as_str().is_none_or(|n| !read_only.contains(n)))
                            .cloned()
                            .collect(),
                    ),
                    other => other.clone(),
                }
            } else if v30
                && matches!(key_str, "exclusiveMinimum" | "exclusiveMaximum")
                && value.is_boolean()
            {
                continue; // folded in below
            } else {
                value.clone()
            };
            // A draft-04 tuple `items: [...]` is `prefixItems` in 2020-12.
            out.insert(
                if is_tuple {
                    "prefixItems".into()
                } else {
                    key.clone()
                },
                converted,
            );
        }
        if v30 {
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if map.get(flag) == Some(&Value::Bool(true))
                    && let Some(limit) = out.remove(bound)
                {
                    out.insert(flag.into(), limit);
                }
            }
        }
        integer_format_bounds(&mut out);
        if out
            .get("required")
            .is_some_and(|r| r.as_array().is_some_and(Vec::is_empty))
        {
            out.remove("required");
        }
        self.discriminator(node, map, &mut out)?;
        Ok(out)
    }

    /// Names of the properties of this schema marked `readOnly` (directly or through their `$ref`).
    fn read_only_properties(
        &self,
        node: &Node<'s>,
        map: &Map<String, Value>,
    ) -> Result<HashSet<String>, Diagnostic> {
        let mut names = HashSet::new();
        let Some(Value::Object(properties)) = map.get("properties") else {
            return Ok(names);
        };
        for name in properties.keys() {
            if is_read_only(self.spec, &node.child("properties").child(name), 0)? {
                names.insert(name.clone());
            }
        }
        Ok(names)
    }

    /// With `oneOf`/`anyOf` branches that are all references, the discriminating property must hold
    /// one of the values that select a branch (the mapping's keys, and the names of unmapped branches).
    fn discriminator(
        &mut self,
        node: &Node<'s>,
        map: &Map<String, Value>,
        out: &mut Map<String, Value>,
    ) -> Result<(), Diagnostic> {
        let Some(discriminator) = map.get("discriminator") else {
            return Ok(());
        };
        let Some(property) = discriminator.get("propertyName").and_then(Value::as_str) else {
            return Err(Diagnostic::error(
                "invalid-schema",
                node.child("discriminator").location(),
                "`discriminator` needs a `propertyName`",
            ));
        };
        let Some(branches) = map
            .get("oneOf")
            .or_else(|| map.get("anyOf"))
            .and_then(Value::as_array)
        else {
            return Ok(());
        };
        let refs: Option<Vec<&str>> = branches
            .iter()
            .map(|b| b.get("$ref").and_then(Value::as_str))
            .collect();
        let Some(refs) = refs else {
            return Ok(());
        };
        let mapping = discriminator.get("mapping").and_then(Value::as_object);
        let mut values: Vec<String> = mapping
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let mapped: HashSet<&str> = mapping
            .map(|m| m.values().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for reference in refs {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            if !mapped.contains(reference)
                && !mapped.contains(name)
                && !values.iter().any(|v| v == name)
            {
                values.push(specgate_plan::unescape_pointer(name));
            }
        }
        let rule = json!({"required": [property], "properties": {property: {"enum": values}}});
        match out.get_mut("allOf") {
            Some(Value::Array(all)) => all.push(rule),
            _ => {
                out.insert("allOf".into(), Value::Array(vec![rule]));
            }
        }
        Ok(())
    }

    /// `{"$ref": "#/$defs/<id>"}` for the schema `node`'s `$ref` names, queuing it when new.
    fn reference(&mut self, node: &Node<'s>) -> Result<Value, Diagnostic> {
        // Following the whole chain refuses reference cycles with no schema in between.
        self.spec.deref(node)?;
        let target = self.spec.resolve(node)?;
        let key = (target.file_id, target.pointer.clone());
        let id = match self.ids.get(&key) {
            Some(id) => id.clone(),
            None => {
                let id = self.fresh_id(&target);
                self.ids.insert(key, id.clone());
                self.queue.push((id.clone(), target));
                id
            }
        };
        Ok(json!({ "$ref": format!("{DEFS_PREFIX}{id}") }))
    }

    /// A readable, unique id: the component name for `#/components/schemas/Name` of the root file.
    fn fresh_id(&mut self, target: &Node) -> String {
        let pointer = target.pointer.trim_start_matches('/');
        let local = pointer
            .strip_prefix("components/schemas/")
            .unwrap_or(pointer);
        let local: String = local
            .split('/')
            .map(specgate_plan::unescape_pointer)
            .collect::<Vec<_>>()
            .join(".");
        let base = if target.file_id == 0 {
            local
        } else {
            let stem = target
                .file
                .path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("file");
            if local.is_empty() {
                stem.to_owned()
            } else {
                format!("{stem}.{local}")
            }
        };
        let mut base: String = base
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if base.is_empty() {
            base.push_str("schema");
        }
        let mut id = base.clone();
        let mut n = 2;
        while !self.taken.insert(id.clone()) {
            id = format!("{base}~{n}");
            n += 1;
        }
        id
    }
}

/// Whether a property schema is marked `readOnly`: on itself, on its `$ref` target, or on a branch of
/// its `allOf` (the 3.0 idiom `id: {allOf: [{$ref: Id}]}`), following references.
pub(crate) fn is_read_only<'s>(
    spec: &'s Spec,
    node: &Node<'s>,
    depth: usize,
) -> Result<bool, Diagnostic> {
    let value = node.value();
    if let Some(flag) = value.get("readOnly") {
        return Ok(flag == &Value::Bool(true));
    }
    if depth > 16 {
        return Ok(false);
    }
    if value.get("$ref").is_some() {
        let target = spec.resolve(node)?;
        if is_read_only(spec, &target, depth + 1)? {
            return Ok(true);
        }
    }
    let branches = value
        .get("allOf")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for i in 0..branches {
        if is_read_only(spec, &node.child("allOf").child(&i.to_string()), depth + 1)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// 3.0 `nullable: true`: add `"null"` to the type (and to `enum`), or allow null beside the schema.
fn make_nullable(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    if let Some(Value::Array(values)) = map.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    match map.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            map.insert("type".into(), json!([t, "null"]));
            Value::Object(map)
        }
        Some(Value::Array(types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
            Value::Object(map)
        }
        _ => json!({"anyOf": [Value::Object(map), {"type": "null"}]}),
    }
}

/// `format: int32`/`int64` on an integer: the bounds of that type, unless tighter ones are given.
fn integer_format_bounds(out: &mut Map<String, Value>) {
    let is_integer = match out.get("type") {
        Some(Value::String(t)) => t == "integer",
        Some(Value::Array(types)) => types.iter().any(|t| t == "integer"),
        _ => false,
    };
    let (min, max) = match out.get("format").and_then(Value::as_str) {
        Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
        Some("int64") => (i64::MIN, i64::MAX),
        _ => return,
    };
    if !is_integer {
        return;
    }
    let tighter = |key: &str, bound: i64, lower: bool| {
        out.get(key).and_then(Value::as_f64).is_some_and(|v| {
            if lower {
                v >= bound as f64
            } else {
                v <= bound as f64
            }
        })
    };
    let set_min = !tighter("minimum", min, true) && !tighter("exclusiveMinimum", min, true);
    let set_max = !tighter("maximum", max, false) && !tighter("exclusiveMaximum", max, false);
    if set_min {
        out.insert("minimum".into(), json!(min));
    }
    if set_max {
        out.insert("maximum".into(), json!(max));
    }
}
