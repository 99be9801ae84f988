//! The plan: the contract between specgate's compiler and its runtime.
//!
//! A plan is plain data, written by `specgate compile` as JSON and read by `specgate run`. It is
//! versioned ([`FORMAT_VERSION`]), refuses unknown fields, and holds only ordered maps and lists, so the
//! same spec always gives the same bytes. It carries everything the runtime needs and nothing it must
//! not have: no secrets, no YAML, no lint state.
//!
//! Schemas are JSON Schema 2020-12, already normalised from the spec's dialect for the request
//! direction (3.0 `nullable`, boolean exclusive bounds, `int32`/`int64` bounds, readOnly properties
//! refused). A schema reused by several operations is stored once in [`Plan::schemas`] and referred to
//! as `{"$ref": "#/$defs/<id>"}`; [`Plan::bundle`] turns any schema into a self-contained document.
#![forbid(unsafe_code)]

pub mod json;
pub mod policy;
pub mod scheme;
pub mod units;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use policy::{HttpMethod, Policy};
pub use scheme::SecurityScheme;

/// Bumped whenever a plan written by an older compiler could be misread by a newer runtime.
pub const FORMAT_VERSION: u32 = 1;

/// Where plan schemas live in a bundled schema document.
pub const DEFS_PREFIX: &str = "#/$defs/";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Plan {
    pub format_version: u32,
    pub source: Source,
    /// The document-level effective policy: what applies to requests that match no operation.
    pub defaults: Policy,
    pub security_schemes: BTreeMap<String, SecurityScheme>,
    /// Sorted by path template, then method.
    pub operations: Vec<Operation>,
    /// Shared schemas by id, referred to as `#/$defs/<id>`.
    pub schemas: BTreeMap<String, Value>,
}

/// What the plan was compiled from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Source {
    /// The root file as given to the compiler.
    pub file: String,
    /// SHA-256 over every file the spec is made of (their paths relative to the root and contents).
    pub sha256: String,
    /// The document's `openapi` version.
    pub openapi: String,
    pub title: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Operation {
    /// The spec's `operationId`, or `METHOD /path` when it has none.
    pub id: String,
    pub method: HttpMethod,
    /// The path template as written in the spec, such as `/users/{id}`.
    pub path: String,
    /// The effective `servers` URLs (operation, else path item, else document), variables unexpanded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<Server>,
    pub parameters: Vec<Parameter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<RequestBody>,
    /// Alternatives (any one may pass), each naming schemes that must all pass with the listed scopes.
    /// Empty: the operation is public.
    pub security: Vec<BTreeMap<String, Vec<String>>>,
    /// The effective policy after inheritance (defaults, document, path item, operation).
    pub policy: Policy,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Server {
    pub url: String,
    /// Each variable's allowed values; the first is its default.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, Vec<String>>,
}

/// A place in the spec, so that runtime messages can point back to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Origin {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub pointer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParameterLocation {
    Path,
    Query,
    Header,
    Cookie,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Style {
    Matrix,
    Label,
    Simple,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
}

impl Style {
    /// The default style of a location (OpenAPI 3.x).
    pub fn default_for(location: ParameterLocation) -> Self {
        match location {
            ParameterLocation::Path | ParameterLocation::Header => Self::Simple,
            ParameterLocation::Query | ParameterLocation::Cookie => Self::Form,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "in")]
    pub location: ParameterLocation,
    pub style: Style,
    pub explode: bool,
    pub required: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_reserved: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_empty_value: bool,
    /// For parameters described by `content` instead of `schema`: the media type of the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RequestBody {
    pub required: bool,
    /// By media type or media-type range (`application/json`, `application/*`, `*/*`).
    pub content: BTreeMap<String, MediaType>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MediaType {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Per-property encoding of form and multipart bodies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encoding: BTreeMap<String, Encoding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Encoding {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<Style>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explode: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_reserved: bool,
}

/// Why a plan cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlanError {
    /// The text is not a plan (or not valid JSON).
    Malformed(serde_json::Error),
    /// Written by a compiler with another format version.
    UnsupportedVersion { found: u32 },
    /// A schema refers to an id the plan does not hold.
    MissingSchema { id: String },
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Malformed(e) => write!(f, "not a specgate plan: {e}"),
            Self::UnsupportedVersion { found } => write!(
                f,
                "plan format version {found} is not supported (this specgate reads version {FORMAT_VERSION}); compile the spec again with this specgate"
            ),
            Self::MissingSchema { id } => {
                write!(
                    f,
                    "the plan refers to schema `{id}` but does not contain it"
                )
            }
        }
    }
}

impl std::error::Error for PlanError {}

impl Plan {
    /// Reads a plan from its JSON text, refusing other format versions.
    pub fn from_json(text: &str) -> Result<Self, PlanError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Version {
            format_version: u32,
        }
        let version: Version = serde_json::from_str(text).map_err(PlanError::Malformed)?;
        if version.format_version != FORMAT_VERSION {
            return Err(PlanError::UnsupportedVersion {
                found: version.format_version,
            });
        }
        serde_json::from_str(text).map_err(PlanError::Malformed)
    }

    /// The plan as pretty-printed JSON, ending with a newline. Same plan, same bytes.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| unreachable!("a plan always serializes: {e}"));
        text.push('\n');
        text
    }

    /// A self-contained JSON Schema document for `schema`: the schema itself, with every shared schema
    /// it reaches (directly or through others) under `$defs`.
    pub fn bundle(&self, schema: &Value) -> Result<Value, PlanError> {
        let mut needed = BTreeSet::new();
        let mut queue = Vec::new();
        collect_refs(schema, &mut queue);
        while let Some(id) = queue.pop() {
            if needed.insert(id.clone()) {
                let target = self
                    .schemas
                    .get(&id)
                    .ok_or(PlanError::MissingSchema { id: id.clone() })?;
                collect_refs(target, &mut queue);
            }
        }
        let defs: serde_json::Map<String, Value> = needed
            .into_iter()
            .map(|id| {
                let schema = self.schemas[&id].clone();
                (id, schema)
            })
            .collect();
        let mut document = serde_json::Map::new();
        document.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        if !defs.is_empty() {
            document.insert("$defs".into(), Value::Object(defs));
        }
        match schema {
            Value::Object(map) => {
                for (k, v) in map {
                    document.insert(k.clone(), v.clone());
                }
            }
            other => {
                document.insert("allOf".into(), Value::Array(vec![other.clone()]));
            }
        }
        Ok(Value::Object(document))
    }
}

/// Pushes the ids of every `#/$defs/<id>` reference inside `schema`.
pub fn collect_refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (key, value) in map {
                if key == "$ref" {
                    if let Some(id) = value.as_str().and_then(|r| r.strip_prefix(DEFS_PREFIX)) {
                        out.push(unescape_pointer(id));
                    }
                } else if !matches!(key.as_str(), "enum" | "const" | "default") {
                    collect_refs(value, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Escapes one JSON-pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    if segment.contains(['~', '/']) {
        segment.replace('~', "~0").replace('/', "~1")
    } else {
        segment.to_owned()
    }
}

/// Whether an escaped JSON-pointer segment names `key` (RFC 6901), without unescaping it into a new
/// string: locating a finding compares a segment with many keys.
pub fn pointer_segment_is(escaped: &str, key: &str) -> bool {
    unescaped(escaped).eq(key.chars())
}

/// Unescapes one JSON-pointer segment (RFC 6901).
pub fn unescape_pointer(segment: &str) -> String {
    if segment.contains('~') {
        let mut out = String::with_capacity(segment.len());
        out.extend(unescaped(segment));
        out
    } else {
        segment.to_owned()
    }
}

/// The characters of an escaped segment, unescaped in one pass, so that `~01` is `~1`, not `/`
/// (RFC 6901 §4). A `~` followed by anything else stands for itself.
fn unescaped(segment: &str) -> impl Iterator<Item = char> + '_ {
    let mut chars = segment.chars().peekable();
    std::iter::from_fn(move || {
        let c = chars.next()?;
        Some(match (c, chars.peek()) {
            ('~', Some('0')) => {
                chars.next();
                '~'
            }
            ('~', Some('1')) => {
                chars.next();
                '/'
            }
            _ => c,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_segment_is_compared_as_if_unescaped() {
        for (escaped, key) in [
            ("", ""),
            ("users", "users"),
            ("~1users~1{id}", "/users/{id}"),
            ("a~0b", "a~b"),
            ("~01", "~1"),
            ("~10", "/0"),
            ("~", "~"),
            ("~2", "~2"),
            ("x~", "x~"),
            ("é~1ß", "é/ß"),
        ] {
            assert_eq!(unescape_pointer(escaped), key);
            assert!(pointer_segment_is(escaped, key), "{escaped} names {key}");
        }
        for (escaped, key) in [
            ("users", "user"),
            ("user", "users"),
            ("~1", "~1"),
            ("~0", "~0"),
            ("a~1b", "a~b"),
            ("", "a"),
        ] {
            assert!(
                !pointer_segment_is(escaped, key),
                "{escaped} does not name {key}"
            );
        }
    }

    fn empty_plan() -> Plan {
        Plan {
            format_version: FORMAT_VERSION,
            source: Source {
                file: "a.yaml".into(),
                sha256: "00".into(),
                openapi: "3.1.0".into(),
                title: "t".into(),
                version: "1".into(),
            },
            defaults: Policy::default(),
            security_schemes: BTreeMap::new(),
            operations: vec![],
            schemas: BTreeMap::new(),
        }
    }

    #[test]
    fn bundles_carry_every_schema_they_reach() {
        let mut plan = empty_plan();
        plan.schemas.insert(
            "Pet".into(),
            json!({"type": "object", "properties": {"tag": {"$ref": "#/$defs/Tag"}}}),
        );
        plan.schemas.insert(
            "Tag".into(),
            json!({"type": "string", "enum": [{"$ref": "#/$defs/Unused"}]}),
        );
        plan.schemas.insert("Unused".into(), json!(true));
        let bundle = plan.bundle(&json!({"$ref": "#/$defs/Pet"})).unwrap();
        let defs = bundle["$defs"].as_object().unwrap();
        assert_eq!(defs.keys().collect::<Vec<_>>(), ["Pet", "Tag"]);
        assert_eq!(bundle["$ref"], "#/$defs/Pet");
    }

    #[test]
    fn a_missing_schema_is_an_error() {
        let plan = empty_plan();
        assert!(matches!(
            plan.bundle(&json!({"$ref": "#/$defs/Nope"})),
            Err(PlanError::MissingSchema { .. })
        ));
    }

    #[test]
    fn other_versions_are_refused_with_a_hint() {
        let mut value = serde_json::to_value(empty_plan()).unwrap();
        value["format-version"] = json!(99);
        let err = Plan::from_json(&value.to_string()).unwrap_err();
        assert!(err.to_string().contains("compile the spec again"));
        let plan = empty_plan();
        assert_eq!(Plan::from_json(&plan.to_json()).unwrap(), plan);
    }
}
