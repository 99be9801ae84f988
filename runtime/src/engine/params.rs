//! Request parameters decoded by their OpenAPI `style` and `explode` into typed JSON values.
//!
//! Pure: no I/O, and nothing here panics on any input. The text of a parameter is first split on the
//! delimiters of its style (`,` `;` `=` `.` `|` `&`, `%20` for `spaceDelimited`), and only then
//! percent-decoded, so an encoded delimiter (`%2C`) stays inside a value. In the query `+` is a space
//! (form encoding); in the path and in cookies it is a `+`. Header values are taken as they are (not
//! percent-decoded): that is what the upstream application reads.
//!
//! Values are coerced to the JSON type their schema asks for ([`Kind`]) when the text is a faithful
//! spelling of one (`42`, `-1.5`, `true`); anything else stays a string, so that schema validation,
//! not decoding, reports the type error.
//!
//! Styles follow the "Style Values" and "Style Examples" tables of OpenAPI 3.1.1.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use percent_encoding::percent_decode_str;
use serde_json::{Map, Number, Value};
use specgate_plan::{DEFS_PREFIX, Parameter, Plan, Style, unescape_pointer};

/// The JSON type a value should be coerced to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    Any,
}

/// What shape a parameter's value has, from its schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Primitive(Kind),
    Array(Kind),
    /// Property kinds by name; `other` for properties not listed.
    Object {
        properties: BTreeMap<String, Kind>,
        other: Kind,
    },
}

/// How many `$ref`s and subschemas deep [`Shape::of`] looks.
const MAX_DEPTH: usize = 32;
/// How many subschemas [`Shape::of`] visits at most, so that a schema made of many `allOf`s of
/// `$ref`s to itself cannot make it take exponential time.
const MAX_VISITS: usize = 1024;

impl Shape {
    /// The shape of a (plan) schema: follows `$ref`s into `plan.schemas` (bounded depth), `type` as a
    /// string or a list (the first type other than "null"), `allOf` branches (first typed one wins),
    /// array `items`, object `properties`/`additionalProperties`. No schema or no type: Primitive(Any)
    /// (for objects with properties but no `type`, Object).
    ///
    /// The properties of an object are gathered from the schema, its `$ref` and all of its `allOf`
    /// branches (the first mention of a name wins), so that `allOf: [{$ref: Base}, {properties: ..}]`
    /// knows every property. A schema without `type` whose `enum` (or `const`) values are all of one
    /// JSON type has that type.
    pub fn of(plan: &Plan, schema: Option<&Value>) -> Shape {
        let mut walk = Walk { plan, visits: 0 };
        schema
            .and_then(|schema| walk.shape(schema, 0))
            .unwrap_or(Shape::Primitive(Kind::Any))
    }

    /// The kind of property `name` of an object (`Any` for arrays and primitives).
    fn property(&self, name: &str) -> Kind {
        match self {
            Shape::Object { properties, other } => properties.get(name).copied().unwrap_or(*other),
            _ => Kind::Any,
        }
    }

    /// The value of this shape written as the empty string (per the "empty" column of the table).
    fn empty(&self) -> Value {
        match self {
            Shape::Primitive(_) => Value::String(String::new()),
            Shape::Array(_) => Value::Array(Vec::new()),
            Shape::Object { .. } => Value::Object(Map::new()),
        }
    }
}

/// A bounded walk over a schema and the plan's shared schemas.
struct Walk<'p> {
    plan: &'p Plan,
    visits: usize,
}

impl<'p> Walk<'p> {
    fn enter(&mut self, depth: usize) -> bool {
        if depth > MAX_DEPTH || self.visits >= MAX_VISITS {
            return false;
        }
        self.visits += 1;
        true
    }

    /// The shared schema a `{"$ref": "#/$defs/<id>"}` refers to.
    fn target(&self, schema: &Map<String, Value>) -> Option<&'p Value> {
        let id = schema.get("$ref")?.as_str()?.strip_prefix(DEFS_PREFIX)?;
        self.plan.schemas.get(&unescape_pointer(id))
    }

    /// The shape a schema states, or None when it states no type.
    fn shape(&mut self, schema: &Value, depth: usize) -> Option<Shape> {
        if !self.enter(depth) {
            return None;
        }
        let object = schema.as_object()?;
        if let Some(name) = type_name(object.get("type")) {
            return Some(match name {
                "array" => Shape::Array(self.items(schema, depth).unwrap_or(Kind::Any)),
                "object" => self.object(schema, depth),
                other => Shape::Primitive(kind_named(other)),
            });
        }
        let referred = self.target(object).and_then(|t| self.shape(t, depth + 1));
        if let Some(shape) = referred {
            return Some(self.widen(shape, schema, depth));
        }
        if let Some(branches) = object.get("allOf").and_then(Value::as_array) {
            for branch in branches {
                if let Some(shape) = self.shape(branch, depth + 1) {
                    return Some(self.widen(shape, schema, depth));
                }
            }
        }
        if object.contains_key("properties") {
            return Some(self.object(schema, depth));
        }
        enum_kind(object).map(Shape::Primitive)
    }

    /// A shape found in a `$ref` or an `allOf` branch, completed by the rest of `schema`.
    fn widen(&mut self, shape: Shape, schema: &Value, depth: usize) -> Shape {
        match shape {
            Shape::Object { .. } => self.object(schema, depth),
            Shape::Array(Kind::Any) => Shape::Array(self.items(schema, depth).unwrap_or(Kind::Any)),
            shape => shape,
        }
    }

    /// The kind of a schema used as an array item or a property (nested arrays and objects: Any).
    fn kind(&mut self, schema: &Value, depth: usize) -> Kind {
        match self.shape(schema, depth) {
            Some(Shape::Primitive(kind)) => kind,
            _ => Kind::Any,
        }
    }

    /// The kind of the first `items` found in the schema, its `$ref` or its `allOf` branches.
    fn items(&mut self, schema: &Value, depth: usize) -> Option<Kind> {
        if !self.enter(depth) {
            return None;
        }
        let object = schema.as_object()?;
        if let Some(items) = object.get("items") {
            return Some(self.kind(items, depth + 1));
        }
        let referred = self.target(object).and_then(|t| self.items(t, depth + 1));
        if referred.is_some() {
            return referred;
        }
        let branches = object.get("allOf").and_then(Value::as_array)?;
        branches
            .iter()
            .find_map(|branch| self.items(branch, depth + 1))
    }

    fn object(&mut self, schema: &Value, depth: usize) -> Shape {
        let mut properties = BTreeMap::new();
        let mut other = None;
        self.gather(schema, depth, &mut properties, &mut other);
        Shape::Object {
            properties,
            other: other.unwrap_or(Kind::Any),
        }
    }

    /// Collects `properties` and the first `additionalProperties` schema of the schema, its `$ref`
    /// and its `allOf` branches.
    fn gather(
        &mut self,
        schema: &Value,
        depth: usize,
        properties: &mut BTreeMap<String, Kind>,
        other: &mut Option<Kind>,
    ) {
        if !self.enter(depth) {
            return;
        }
        let Some(object) = schema.as_object() else {
            return;
        };
        if let Some(declared) = object.get("properties").and_then(Value::as_object) {
            for (name, property) in declared {
                if !properties.contains_key(name) {
                    let kind = self.kind(property, depth + 1);
                    properties.insert(name.clone(), kind);
                }
            }
        }
        let additional = object.get("additionalProperties").filter(|a| a.is_object());
        if let (None, Some(additional)) = (&other, additional) {
            *other = Some(self.kind(additional, depth + 1));
        }
        if let Some(target) = self.target(object) {
            self.gather(target, depth + 1, properties, other);
        }
        if let Some(branches) = object.get("allOf").and_then(Value::as_array) {
            for branch in branches {
                self.gather(branch, depth + 1, properties, other);
            }
        }
    }
}

/// The type named by a `type` keyword: the string, or the first entry of a list other than "null".
fn type_name(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::String(name) if name != "null" => Some(name),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .find(|name| *name != "null"),
        _ => None,
    }
}

fn kind_named(name: &str) -> Kind {
    match name {
        "string" => Kind::String,
        "integer" => Kind::Integer,
        "number" => Kind::Number,
        "boolean" => Kind::Boolean,
        _ => Kind::Any,
    }
}

/// The kind of a schema without `type` from its `enum` or `const` values, when they agree.
fn enum_kind(schema: &Map<String, Value>) -> Option<Kind> {
    let values: Vec<&Value> = match (schema.get("enum"), schema.get("const")) {
        (Some(Value::Array(values)), _) => values.iter().collect(),
        (_, Some(value)) => vec![value],
        _ => return None,
    };
    let values: Vec<&Value> = values.into_iter().filter(|v| !v.is_null()).collect();
    if values.is_empty() {
        None
    } else if values.iter().all(|v| v.is_string()) {
        Some(Kind::String)
    } else if values.iter().all(|v| v.is_boolean()) {
        Some(Kind::Boolean)
    } else if values.iter().all(|v| v.is_i64() || v.is_u64()) {
        Some(Kind::Integer)
    } else if values.iter().all(|v| v.is_number()) {
        Some(Kind::Number)
    } else {
        None
    }
}

/// Why a parameter could not be decoded. Never includes the submitted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    /// A scalar (or non-exploded) query parameter given more than once.
    Repeated,
    /// The raw text does not fit the style (e.g. a matrix value without `;name=`), with a short reason.
    Malformed(&'static str),
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Repeated => f.write_str("is given more than once"),
            Self::Malformed(why) => write!(f, "is malformed: {why}"),
        }
    }
}

const NOT_UTF8: ParamError = ParamError::Malformed("is not valid UTF-8 once percent-decoded");
const ODD_OBJECT: ParamError =
    ParamError::Malformed("an object needs an even number of items (key, value, ...)");
const KEY_TWICE: ParamError = ParamError::Malformed("an object has a key twice");
const EMPTY_MEMBER: ParamError = ParamError::Malformed("an object has an empty member");
const NOT_LABEL: ParamError = ParamError::Malformed("a label value must start with `.`");
const NOT_MATRIX: ParamError =
    ParamError::Malformed("a matrix value must be `;name=value` with the parameter's name");
const MATRIX_SEMICOLON: ParamError =
    ParamError::Malformed("a non-exploded matrix value has a single `;name=value`");
const NESTED_DEEP: ParamError = ParamError::Malformed("nested deepObject keys are not supported");
const BAD_DEEP_KEY: ParamError = ParamError::Malformed("a deepObject key must be `name[property]`");
const NOT_DEEP: ParamError =
    ParamError::Malformed("a deepObject parameter is given as `name[property]=value` pairs");

const COMMA: &[&str] = &[","];
const DOT: &[&str] = &["."];
/// `spaceDelimited`: a space is sent as `%20`, or `+` in form encoding.
const SPACE: &[&str] = &["%20", "+", " "];
/// `pipeDelimited`: `|` is not allowed unencoded in a URI, so clients often send `%7C`.
const PIPE: &[&str] = &["|", "%7C"];

/// Where a piece of text comes from: decides how it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    /// Percent-decoded; `+` is a `+`.
    Path,
    /// Percent-decoded; `+` is a space.
    Query,
    /// Taken as it is, without optional whitespace around it.
    Header,
    /// Percent-decoded; `+` is a `+`.
    Cookie,
}

impl Codec {
    fn text(self, raw: &str) -> Result<String, ParamError> {
        match self {
            Codec::Header => Ok(trim_ows(raw).to_owned()),
            Codec::Query if raw.contains('+') => percent_decode(&raw.replace('+', " ")),
            Codec::Path | Codec::Query | Codec::Cookie => percent_decode(raw),
        }
    }

    /// Whether `raw` stands for no items at all.
    fn is_blank(self, raw: &str) -> bool {
        match self {
            Codec::Header => trim_ows(raw).is_empty(),
            _ => raw.is_empty(),
        }
    }
}

fn percent_decode(raw: &str) -> Result<String, ParamError> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| NOT_UTF8)
}

fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

/// A decoded text as a value of `kind`, or the text itself when it does not spell one.
pub(crate) fn coerce(kind: Kind, text: String) -> Value {
    match kind {
        Kind::Integer => integer(&text).unwrap_or(Value::String(text)),
        Kind::Number => integer(&text)
            .or_else(|| float(&text))
            .unwrap_or(Value::String(text)),
        Kind::Boolean => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        Kind::String | Kind::Any => Value::String(text),
    }
}

/// `-?[0-9]+` within the range of i64 or u64.
fn integer(text: &str) -> Option<Value> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match text.parse::<i64>() {
        Ok(n) => Some(Value::from(n)),
        Err(_) => text.parse::<u64>().ok().map(Value::from),
    }
}

fn float(text: &str) -> Option<Value> {
    let n = text.parse::<f64>().ok().filter(|n| n.is_finite())?;
    Number::from_f64(n).map(Value::Number)
}

/// Splits `text` on any of `separators` (ASCII, matched case-insensitively).
fn split_any<'t>(text: &'t str, separators: &[&str]) -> Vec<&'t str> {
    let bytes = text.as_bytes();
    let mut items = Vec::new();
    let (mut start, mut at) = (0, 0);
    while at < bytes.len() {
        let found = separators.iter().map(|s| s.as_bytes()).find(|s| {
            !s.is_empty()
                && bytes
                    .get(at..at + s.len())
                    .is_some_and(|b| b.eq_ignore_ascii_case(s))
        });
        match found {
            Some(separator) => {
                // Separators are ASCII, so `at` and `at + len` are character boundaries.
                items.push(text.get(start..at).unwrap_or(""));
                at += separator.len();
                start = at;
            }
            None => at += 1,
        }
    }
    items.push(text.get(start..).unwrap_or(""));
    items
}

/// Splits a value into its items: none for blank text.
fn items<'t>(codec: Codec, text: &'t str, separators: &[&str]) -> Vec<&'t str> {
    if codec.is_blank(text) {
        Vec::new()
    } else {
        split_any(text, separators)
    }
}

fn array<'t>(
    codec: Codec,
    kind: Kind,
    items: impl IntoIterator<Item = &'t str>,
) -> Result<Value, ParamError> {
    items
        .into_iter()
        .map(|item| codec.text(item).map(|text| coerce(kind, text)))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn insert(
    object: &mut Map<String, Value>,
    shape: &Shape,
    key: String,
    text: String,
    twice: ParamError,
) -> Result<(), ParamError> {
    if object.contains_key(&key) {
        return Err(twice);
    }
    let value = coerce(shape.property(&key), text);
    object.insert(key, value);
    Ok(())
}

/// An object written as alternating keys and values (`R,100,G,200`).
fn alternating(codec: Codec, shape: &Shape, items: &[&str]) -> Result<Value, ParamError> {
    if items.len() % 2 == 1 {
        return Err(ODD_OBJECT);
    }
    let mut object = Map::new();
    for pair in items.chunks_exact(2) {
        let key = codec.text(pair[0])?;
        let text = codec.text(pair[1])?;
        insert(&mut object, shape, key, text, KEY_TWICE)?;
    }
    Ok(Value::Object(object))
}

/// An object written as `key=value` members (`R=100,G=200`); a member without `=` has the empty value.
fn members<'t>(
    codec: Codec,
    shape: &Shape,
    items: impl IntoIterator<Item = &'t str>,
) -> Result<Value, ParamError> {
    let mut object = Map::new();
    for item in items {
        if codec.is_blank(item) {
            return Err(EMPTY_MEMBER);
        }
        let (key, text) = item.split_once('=').unwrap_or((item, ""));
        let key = codec.text(key)?;
        let text = codec.text(text)?;
        insert(&mut object, shape, key, text, KEY_TWICE)?;
    }
    Ok(Value::Object(object))
}

/// A value whose items are separated by `separators`: a primitive is the whole text, an array its
/// items, an object `key=value` members when `exploded`, else alternating keys and values.
fn structured(
    codec: Codec,
    shape: &Shape,
    text: &str,
    separators: &[&str],
    exploded: bool,
) -> Result<Value, ParamError> {
    match shape {
        Shape::Primitive(kind) => Ok(coerce(*kind, codec.text(text)?)),
        Shape::Array(kind) => array(codec, *kind, items(codec, text, separators)),
        Shape::Object { .. } if exploded => members(codec, shape, items(codec, text, separators)),
        Shape::Object { .. } => alternating(codec, shape, &items(codec, text, separators)),
    }
}

/// A path parameter: `raw` is the still percent-encoded text the router matched for `{name}`.
pub fn decode_path(p: &Parameter, shape: &Shape, raw: &str) -> Result<Value, ParamError> {
    if p.content_type.is_some() {
        return Codec::Path.text(raw).map(Value::String);
    }
    match p.style {
        Style::Label => {
            let rest = raw.strip_prefix('.').ok_or(NOT_LABEL)?;
            let separators = if p.explode { DOT } else { COMMA };
            structured(Codec::Path, shape, rest, separators, p.explode)
        }
        Style::Matrix => matrix(p, shape, raw),
        _ => structured(Codec::Path, shape, raw, COMMA, p.explode),
    }
}

/// `;name=value` (non-exploded, primitives), `;name=a;name=b` (exploded arrays), `;R=100;G=200`
/// (exploded objects); `;name` alone is the empty value.
fn matrix(p: &Parameter, shape: &Shape, raw: &str) -> Result<Value, ParamError> {
    let rest = raw.strip_prefix(';').ok_or(NOT_MATRIX)?;
    // The value of a `name=value` segment (None for a bare `name`), when the name is the parameter's.
    let named = |segment: &str| -> Result<Option<String>, ParamError> {
        let (key, value) = match segment.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (segment, None),
        };
        if Codec::Path.text(key)? != p.name {
            return Err(NOT_MATRIX);
        }
        value.map(|v| Codec::Path.text(v)).transpose()
    };
    let bare_name = !rest.contains([';', '=']) && Codec::Path.text(rest)? == p.name;
    match shape {
        _ if bare_name => Ok(shape.empty()),
        Shape::Array(kind) if p.explode => rest
            .split(';')
            .map(|segment| named(segment).map(|text| coerce(*kind, text.unwrap_or_default())))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Shape::Object { .. } if p.explode => members(Codec::Path, shape, rest.split(';')),
        _ => {
            if rest.contains(';') {
                return Err(MATRIX_SEMICOLON);
            }
            let (key, value) = rest.split_once('=').ok_or(NOT_MATRIX)?;
            if Codec::Path.text(key)? != p.name {
                return Err(NOT_MATRIX);
            }
            structured(Codec::Path, shape, value, COMMA, false)
        }
    }
}

/// A header parameter (style simple): `values` are every value of that header (names are matched
/// case-insensitively by the caller). Several header lines are joined with "," first (RFC 9110).
///
/// Optional whitespace around the value and around each item is ignored; the text is not
/// percent-decoded.
pub fn decode_header(p: &Parameter, shape: &Shape, values: &[&str]) -> Result<Value, ParamError> {
    let joined = values.join(",");
    if p.content_type.is_some() {
        return Codec::Header.text(&joined).map(Value::String);
    }
    structured(Codec::Header, shape, &joined, COMMA, p.explode)
}

/// Cookie parameters (style form): `cookie_headers` are the raw Cookie header values
/// (`a=1; b=2`). Returns the parameter's value, or None when the cookie is absent.
///
/// Arrays and objects are one cookie whatever `explode` says (`color=blue,black,brown`,
/// `color=R,100,G,200`). A value in double quotes (RFC 6265) is unquoted, then percent-decoded.
pub fn decode_cookie(
    p: &Parameter,
    shape: &Shape,
    cookie_headers: &[&str],
) -> Option<Result<Value, ParamError>> {
    let mut found = cookie_headers
        .iter()
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| trim_ows(name) == p.name)
        .map(|(_, value)| trim_ows(value));
    let value = found.next()?;
    if found.next().is_some() {
        return Some(Err(ParamError::Repeated));
    }
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    if p.content_type.is_some() {
        return Some(Codec::Cookie.text(value).map(Value::String));
    }
    Some(structured(Codec::Cookie, shape, value, COMMA, false))
}

/// All query parameters of an operation at once, because exploded form objects and deepObject take
/// their keys from the whole query string.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryDecoded {
    /// One entry per declared parameter, in the order given: None when absent.
    pub values: Vec<Option<Result<Value, ParamError>>>,
    /// Names (decoded) of query keys that no declared parameter took, each once, in order of appearance.
    pub unknown: Vec<String>,
}

/// One `key=value` of the query: the key decoded, the value still raw.
struct Pair<'q> {
    key: String,
    /// Whether the key decoded to valid UTF-8 (an invalid one matches no parameter).
    valid: bool,
    value: &'q str,
}

fn parse_query(raw_query: &str) -> Vec<Pair<'_>> {
    raw_query
        .split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (key, value) = segment.split_once('=').unwrap_or((segment, ""));
            let (key, valid) = match Codec::Query.text(key) {
                Ok(key) => (key, true),
                Err(_) => {
                    let lossy = percent_decode_str(&key.replace('+', " "))
                        .decode_utf8_lossy()
                        .into_owned();
                    (lossy, false)
                }
            };
            Pair { key, valid, value }
        })
        .collect()
}

/// The query pairs and which of them a parameter has taken.
struct Query<'q> {
    pairs: Vec<Pair<'q>>,
    taken: Vec<bool>,
}

impl<'q> Query<'q> {
    /// Takes every pair named `name`; returns their raw values in order.
    fn take_named(&mut self, name: &str) -> Vec<&'q str> {
        let mut values = Vec::new();
        for (pair, taken) in self.pairs.iter().zip(self.taken.iter_mut()) {
            if pair.valid && pair.key == name {
                *taken = true;
                values.push(pair.value);
            }
        }
        values
    }

    /// The raw value of the single pair named `name`.
    fn take_single(&mut self, name: &str) -> Option<Result<&'q str, ParamError>> {
        match self.take_named(name)[..] {
            [] => None,
            [value] => Some(Ok(value)),
            _ => Some(Err(ParamError::Repeated)),
        }
    }

    /// Takes the pairs `pick` accepts and makes an object of them.
    fn take_object(
        &mut self,
        shape: &Shape,
        pick: impl Fn(&Pair<'q>, bool) -> bool,
    ) -> Option<Result<Value, ParamError>> {
        let mut object = Map::new();
        let mut outcome = Ok(());
        let mut found = false;
        for (pair, taken) in self.pairs.iter().zip(self.taken.iter_mut()) {
            if !pick(pair, *taken) {
                continue;
            }
            *taken = true;
            found = true;
            if outcome.is_ok() {
                outcome = if pair.valid {
                    Codec::Query.text(pair.value).and_then(|text| {
                        insert(
                            &mut object,
                            shape,
                            pair.key.clone(),
                            text,
                            ParamError::Repeated,
                        )
                    })
                } else {
                    Err(NOT_UTF8)
                };
            }
        }
        found.then(|| outcome.map(|()| Value::Object(object)))
    }

    /// A deepObject parameter: `name[property]=value` pairs.
    fn take_deep(&mut self, p: &Parameter, shape: &Shape) -> Option<Result<Value, ParamError>> {
        let prefix = format!("{}[", p.name);
        let mut object = Map::new();
        let mut outcome = Ok(());
        let mut found = false;
        for (pair, taken) in self.pairs.iter().zip(self.taken.iter_mut()) {
            if !pair.valid {
                continue;
            }
            let property = if pair.key == p.name {
                Err(NOT_DEEP)
            } else if let Some(inner) = pair.key.strip_prefix(&prefix) {
                match inner.strip_suffix(']') {
                    Some(name) if !name.is_empty() && !name.contains(['[', ']']) => Ok(name),
                    _ if inner.contains('[') || inner.starts_with(']') => Err(NESTED_DEEP),
                    _ => Err(BAD_DEEP_KEY),
                }
            } else {
                continue;
            };
            *taken = true;
            found = true;
            if outcome.is_ok() {
                outcome = property.and_then(|name| {
                    let text = Codec::Query.text(pair.value)?;
                    insert(
                        &mut object,
                        shape,
                        name.to_owned(),
                        text,
                        ParamError::Repeated,
                    )
                });
            }
        }
        found.then(|| outcome.map(|()| Value::Object(object)))
    }
}

/// Whether a query parameter takes every key no other parameter took: an exploded form object that
/// declares no properties.
fn takes_the_rest(p: &Parameter, shape: &Shape) -> bool {
    p.content_type.is_none()
        && p.explode
        && matches!(
            p.style,
            Style::Form | Style::SpaceDelimited | Style::PipeDelimited
        )
        && matches!(shape, Shape::Object { properties, .. } if properties.is_empty())
}

fn query_value(
    query: &mut Query<'_>,
    p: &Parameter,
    shape: &Shape,
) -> Option<Result<Value, ParamError>> {
    if p.content_type.is_some() {
        let raw = query.take_single(&p.name)?;
        return Some(raw.and_then(|raw| Codec::Query.text(raw).map(Value::String)));
    }
    let separators = match p.style {
        Style::DeepObject => return query.take_deep(p, shape),
        Style::SpaceDelimited => SPACE,
        Style::PipeDelimited => PIPE,
        _ => COMMA,
    };
    match shape {
        Shape::Array(kind) if p.explode => {
            let values = query.take_named(&p.name);
            if values.is_empty() {
                None
            } else if values == [""] {
                // `color=` is the empty array.
                Some(Ok(Value::Array(Vec::new())))
            } else {
                Some(array(Codec::Query, *kind, values))
            }
        }
        Shape::Object { properties, .. } if p.explode => query.take_object(shape, |pair, _| {
            pair.valid && properties.contains_key(&pair.key)
        }),
        _ => {
            let raw = query.take_single(&p.name)?;
            Some(raw.and_then(|raw| structured(Codec::Query, shape, raw, separators, false)))
        }
    }
}

/// All query parameters of an operation at once, because exploded form objects and deepObject take
/// their keys from the whole query string.
///
/// `+` is a space. A key without `=` has the empty value; empty `&&` segments are ignored. Several
/// parameters may read the same key (an exploded object's property and a parameter of that name);
/// an exploded object that declares no properties takes only the keys no other parameter took.
pub fn decode_query(params: &[(&Parameter, &Shape)], raw_query: &str) -> QueryDecoded {
    let pairs = parse_query(raw_query);
    let mut query = Query {
        taken: vec![false; pairs.len()],
        pairs,
    };
    let mut values = vec![None; params.len()];
    for (value, (p, shape)) in values.iter_mut().zip(params) {
        if !takes_the_rest(p, shape) {
            *value = query_value(&mut query, p, shape);
        }
    }
    for (value, (p, shape)) in values.iter_mut().zip(params) {
        if takes_the_rest(p, shape) {
            *value = query.take_object(shape, |_, taken| !taken);
        }
    }
    let mut seen = HashSet::new();
    let unknown = query
        .pairs
        .into_iter()
        .zip(query.taken)
        .filter(|(pair, taken)| !taken && seen.insert(pair.key.clone()))
        .map(|(pair, _)| pair.key)
        .collect();
    QueryDecoded { values, unknown }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use specgate_plan::ParameterLocation;

    fn param(location: ParameterLocation, style: Style, explode: bool) -> Parameter {
        Parameter {
            name: "color".into(),
            location,
            style,
            explode,
            required: false,
            allow_reserved: false,
            allow_empty_value: false,
            content_type: None,
            schema: None,
        }
    }

    fn path(style: Style, explode: bool) -> Parameter {
        param(ParameterLocation::Path, style, explode)
    }

    fn query(style: Style, explode: bool) -> Parameter {
        param(ParameterLocation::Query, style, explode)
    }

    fn named(mut p: Parameter, name: &str) -> Parameter {
        p.name = name.into();
        p
    }

    fn object(properties: &[(&str, Kind)], other: Kind) -> Shape {
        Shape::Object {
            properties: properties
                .iter()
                .map(|(name, kind)| (name.to_string(), *kind))
                .collect(),
            other,
        }
    }

    /// The table's object: R, G and B, all integers.
    fn rgb() -> Shape {
        object(
            &[
                ("R", Kind::Integer),
                ("G", Kind::Integer),
                ("B", Kind::Integer),
            ],
            Kind::Any,
        )
    }

    const STRING: Shape = Shape::Primitive(Kind::String);
    const STRINGS: Shape = Shape::Array(Kind::String);

    fn blue() -> Value {
        json!("blue")
    }
    fn colors() -> Value {
        json!(["blue", "black", "brown"])
    }
    fn rgb_value() -> Value {
        json!({"R": 100, "G": 200, "B": 150})
    }

    fn one(p: &Parameter, shape: &Shape, raw_query: &str) -> Option<Result<Value, ParamError>> {
        let decoded = decode_query(&[(p, shape)], raw_query);
        assert_eq!(decoded.values.len(), 1);
        decoded.values.into_iter().next().flatten()
    }

    fn ok(value: Value) -> Option<Result<Value, ParamError>> {
        Some(Ok(value))
    }

    fn plan(schemas: Value) -> Plan {
        Plan {
            format_version: specgate_plan::FORMAT_VERSION,
            source: specgate_plan::Source {
                file: "t.yaml".into(),
                sha256: "00".into(),
                openapi: "3.1.1".into(),
                title: "t".into(),
                version: "1".into(),
            },
            defaults: specgate_plan::Policy::default(),
            security_schemes: BTreeMap::new(),
            operations: Vec::new(),
            schemas: serde_json::from_value(schemas).unwrap(),
        }
    }

    // ---- Shape::of ----

    #[test]
    fn shape_of_primitives_arrays_and_objects() {
        let plan = plan(json!({}));
        let of = |schema: Value| Shape::of(&plan, Some(&schema));
        assert_eq!(Shape::of(&plan, None), Shape::Primitive(Kind::Any));
        assert_eq!(of(json!({})), Shape::Primitive(Kind::Any));
        assert_eq!(of(json!(true)), Shape::Primitive(Kind::Any));
        assert_eq!(of(json!({"type": "string"})), STRING);
        assert_eq!(
            of(json!({"type": "integer"})),
            Shape::Primitive(Kind::Integer)
        );
        assert_eq!(
            of(json!({"type": "number"})),
            Shape::Primitive(Kind::Number)
        );
        assert_eq!(
            of(json!({"type": "boolean"})),
            Shape::Primitive(Kind::Boolean)
        );
        assert_eq!(of(json!({"type": "null"})), Shape::Primitive(Kind::Any));
        assert_eq!(
            of(json!({"type": ["null", "integer"]})),
            Shape::Primitive(Kind::Integer)
        );
        assert_eq!(
            of(json!({"type": ["integer", "string"]})),
            Shape::Primitive(Kind::Integer)
        );
        assert_eq!(
            of(json!({"type": "array", "items": {"type": "integer"}})),
            Shape::Array(Kind::Integer)
        );
        assert_eq!(of(json!({"type": "array"})), Shape::Array(Kind::Any));
        assert_eq!(
            of(json!({"type": "array", "items": {"type": "array"}})),
            Shape::Array(Kind::Any)
        );
        assert_eq!(
            of(json!({
                "type": "object",
                "properties": {"R": {"type": "integer"}, "name": {"type": "string"}, "tags": {"type": "array"}},
                "additionalProperties": {"type": "boolean"}
            })),
            object(
                &[
                    ("R", Kind::Integer),
                    ("name", Kind::String),
                    ("tags", Kind::Any)
                ],
                Kind::Boolean
            )
        );
        assert_eq!(
            of(json!({"type": "object", "additionalProperties": true})),
            object(&[], Kind::Any)
        );
        // Properties without `type`: still an object.
        assert_eq!(
            of(json!({"properties": {"R": {"type": "integer"}}})),
            object(&[("R", Kind::Integer)], Kind::Any)
        );
        // `enum` or `const` of one JSON type.
        assert_eq!(
            of(json!({"enum": [1, 2, 3]})),
            Shape::Primitive(Kind::Integer)
        );
        assert_eq!(
            of(json!({"enum": [1, 2.5, null]})),
            Shape::Primitive(Kind::Number)
        );
        assert_eq!(of(json!({"const": "x"})), STRING);
        assert_eq!(of(json!({"enum": [true]})), Shape::Primitive(Kind::Boolean));
        assert_eq!(of(json!({"enum": [1, "a"]})), Shape::Primitive(Kind::Any));
    }

    #[test]
    fn shape_of_follows_refs_and_all_of() {
        let plan = plan(json!({
            "Id": {"type": "integer"},
            "Ids": {"type": "array", "items": {"$ref": "#/$defs/Id"}},
            "Base": {"type": "object", "properties": {"R": {"$ref": "#/$defs/Id"}}},
            "a/b~c": {"type": "boolean"},
            "Loop": {"$ref": "#/$defs/Loop"},
            "Fan": {"allOf": [{"$ref": "#/$defs/Fan"}, {"$ref": "#/$defs/Fan"}, {"$ref": "#/$defs/Fan"}]},
        }));
        let of = |schema: Value| Shape::of(&plan, Some(&schema));
        assert_eq!(
            of(json!({"$ref": "#/$defs/Id"})),
            Shape::Primitive(Kind::Integer)
        );
        assert_eq!(
            of(json!({"$ref": "#/$defs/Ids"})),
            Shape::Array(Kind::Integer)
        );
        assert_eq!(
            of(json!({"$ref": "#/$defs/a~1b~0c"})),
            Shape::Primitive(Kind::Boolean)
        );
        assert_eq!(
            of(json!({"$ref": "#/$defs/Missing"})),
            Shape::Primitive(Kind::Any)
        );
        assert_eq!(
            of(json!({"$ref": "other.yaml#/x"})),
            Shape::Primitive(Kind::Any)
        );
        // The first typed branch decides the type; properties come from every branch.
        assert_eq!(
            of(json!({"allOf": [
                {"description": "no type"},
                {"$ref": "#/$defs/Base"},
                {"properties": {"G": {"type": "number"}, "R": {"type": "string"}}}
            ]})),
            object(&[("R", Kind::Integer), ("G", Kind::Number)], Kind::Any)
        );
        assert_eq!(
            of(json!({"allOf": [{"type": "string"}, {"type": "integer"}]})),
            STRING
        );
        assert_eq!(
            of(json!({"allOf": [{"type": "array"}, {"items": {"type": "number"}}]})),
            Shape::Array(Kind::Number)
        );
        // `type` next to a `$ref` wins.
        assert_eq!(of(json!({"type": "string", "$ref": "#/$defs/Id"})), STRING);
        // Cycles and exponential fan-out end, with no type found.
        assert_eq!(
            of(json!({"$ref": "#/$defs/Loop"})),
            Shape::Primitive(Kind::Any)
        );
        assert_eq!(
            of(json!({"$ref": "#/$defs/Fan"})),
            Shape::Primitive(Kind::Any)
        );
    }

    // ---- Path: every row of the 3.1.1 Style Examples table ----

    #[test]
    fn path_simple_rows() {
        for explode in [false, true] {
            let p = path(Style::Simple, explode);
            assert_eq!(decode_path(&p, &STRING, ""), Ok(json!("")));
            assert_eq!(decode_path(&p, &STRINGS, ""), Ok(json!([])));
            assert_eq!(decode_path(&p, &rgb(), ""), Ok(json!({})));
            assert_eq!(decode_path(&p, &STRING, "blue"), Ok(blue()));
            assert_eq!(decode_path(&p, &STRINGS, "blue,black,brown"), Ok(colors()));
        }
        assert_eq!(
            decode_path(&path(Style::Simple, false), &rgb(), "R,100,G,200,B,150"),
            Ok(rgb_value())
        );
        assert_eq!(
            decode_path(&path(Style::Simple, true), &rgb(), "R=100,G=200,B=150"),
            Ok(rgb_value())
        );
    }

    #[test]
    fn path_label_rows() {
        for explode in [false, true] {
            let p = path(Style::Label, explode);
            assert_eq!(decode_path(&p, &STRING, "."), Ok(json!("")));
            assert_eq!(decode_path(&p, &STRINGS, "."), Ok(json!([])));
            assert_eq!(decode_path(&p, &rgb(), "."), Ok(json!({})));
            assert_eq!(decode_path(&p, &STRING, ".blue"), Ok(blue()));
            assert_eq!(
                decode_path(&p, &STRING, "blue"),
                Err(ParamError::Malformed("a label value must start with `.`"))
            );
            assert!(decode_path(&p, &STRINGS, "").is_err());
        }
        let p = path(Style::Label, false);
        assert_eq!(decode_path(&p, &STRINGS, ".blue,black,brown"), Ok(colors()));
        assert_eq!(
            decode_path(&p, &rgb(), ".R,100,G,200,B,150"),
            Ok(rgb_value())
        );
        let p = path(Style::Label, true);
        assert_eq!(decode_path(&p, &STRINGS, ".blue.black.brown"), Ok(colors()));
        assert_eq!(
            decode_path(&p, &rgb(), ".R=100.G=200.B=150"),
            Ok(rgb_value())
        );
        // A primitive keeps its dots.
        assert_eq!(
            decode_path(&p, &Shape::Primitive(Kind::Number), ".3.25"),
            Ok(json!(3.25))
        );
    }

    #[test]
    fn path_matrix_rows() {
        for explode in [false, true] {
            let p = path(Style::Matrix, explode);
            assert_eq!(decode_path(&p, &STRING, ";color"), Ok(json!("")));
            assert_eq!(decode_path(&p, &STRINGS, ";color"), Ok(json!([])));
            assert_eq!(decode_path(&p, &rgb(), ";color"), Ok(json!({})));
            assert_eq!(decode_path(&p, &STRING, ";color=blue"), Ok(blue()));
            assert_eq!(decode_path(&p, &STRING, ";color="), Ok(json!("")));
        }
        let p = path(Style::Matrix, false);
        assert_eq!(
            decode_path(&p, &STRINGS, ";color=blue,black,brown"),
            Ok(colors())
        );
        assert_eq!(
            decode_path(&p, &rgb(), ";color=R,100,G,200,B,150"),
            Ok(rgb_value())
        );
        let p = path(Style::Matrix, true);
        assert_eq!(
            decode_path(&p, &STRINGS, ";color=blue;color=black;color=brown"),
            Ok(colors())
        );
        assert_eq!(
            decode_path(&p, &rgb(), ";R=100;G=200;B=150"),
            Ok(rgb_value())
        );
        // A bare name among items is an empty item.
        assert_eq!(
            decode_path(&p, &STRINGS, ";color=blue;color"),
            Ok(json!(["blue", ""]))
        );
    }

    #[test]
    fn path_malformed_values() {
        let matrix =
            ParamError::Malformed("a matrix value must be `;name=value` with the parameter's name");
        for explode in [false, true] {
            let p = path(Style::Matrix, explode);
            assert_eq!(decode_path(&p, &STRING, ";size=blue"), Err(matrix.clone()));
            assert_eq!(decode_path(&p, &STRING, "color=blue"), Err(matrix.clone()));
            assert_eq!(decode_path(&p, &STRING, "blue"), Err(matrix.clone()));
            assert_eq!(decode_path(&p, &STRINGS, ";size=blue"), Err(matrix.clone()));
            assert_eq!(decode_path(&p, &STRING, ""), Err(matrix.clone()));
        }
        assert_eq!(
            decode_path(
                &path(Style::Matrix, true),
                &STRINGS,
                ";color=blue;size=black"
            ),
            Err(matrix.clone())
        );
        assert!(matches!(
            decode_path(
                &path(Style::Matrix, false),
                &STRING,
                ";color=blue;color=black"
            ),
            Err(ParamError::Malformed(_))
        ));
        // The name may be percent-encoded like the rest.
        assert_eq!(
            decode_path(
                &named(path(Style::Matrix, false), "a b"),
                &STRING,
                ";a%20b=x"
            ),
            Ok(json!("x"))
        );
        // Non-exploded objects need key,value pairs.
        let odd =
            ParamError::Malformed("an object needs an even number of items (key, value, ...)");
        assert_eq!(
            decode_path(&path(Style::Simple, false), &rgb(), "R,100,G"),
            Err(odd.clone())
        );
        assert_eq!(
            decode_path(&path(Style::Label, false), &rgb(), ".R,100,G"),
            Err(odd.clone())
        );
        assert_eq!(
            decode_path(&path(Style::Matrix, false), &rgb(), ";color=R,100,G"),
            Err(odd)
        );
        // A key given twice.
        assert_eq!(
            decode_path(&path(Style::Simple, true), &rgb(), "R=1,R=2"),
            Err(ParamError::Malformed("an object has a key twice"))
        );
        assert_eq!(
            decode_path(&path(Style::Simple, false), &rgb(), "R,1,R,2"),
            Err(ParamError::Malformed("an object has a key twice"))
        );
        assert_eq!(
            decode_path(&path(Style::Simple, true), &rgb(), "R=1,,G=2"),
            Err(ParamError::Malformed("an object has an empty member"))
        );
        // Exploded members without `=` have the empty value.
        assert_eq!(
            decode_path(&path(Style::Matrix, true), &rgb(), ";R=1;G"),
            Ok(json!({"R": 1, "G": ""}))
        );
    }

    #[test]
    fn path_percent_decoding_after_splitting() {
        let p = path(Style::Simple, false);
        assert_eq!(
            decode_path(&p, &STRINGS, "a%2Cb,c"),
            Ok(json!(["a,b", "c"]))
        );
        assert_eq!(decode_path(&p, &STRING, "a%2Cb,c"), Ok(json!("a,b,c")));
        assert_eq!(decode_path(&p, &STRING, "caf%C3%A9"), Ok(json!("café")));
        // `+` is a plus in the path.
        assert_eq!(decode_path(&p, &STRING, "a+b%20c"), Ok(json!("a+b c")));
        assert_eq!(
            decode_path(&p, &rgb(), "R,1%2C0,G%3D,2"),
            Ok(json!({"R": "1,0", "G=": "2"}))
        );
        assert_eq!(
            decode_path(&path(Style::Label, true), &STRINGS, ".a%2Eb.c"),
            Ok(json!(["a.b", "c"]))
        );
        assert_eq!(
            decode_path(
                &path(Style::Matrix, true),
                &STRINGS,
                ";color=a%3Bb;color=c%3D"
            ),
            Ok(json!(["a;b", "c="]))
        );
        assert_eq!(
            decode_path(&p, &STRING, "%FF"),
            Err(ParamError::Malformed(
                "is not valid UTF-8 once percent-decoded"
            ))
        );
        assert!(decode_path(&p, &STRINGS, "a,%C3").is_err());
        // A stray `%` is kept.
        assert_eq!(decode_path(&p, &STRING, "100%"), Ok(json!("100%")));
    }

    #[test]
    fn path_content_parameter_is_the_decoded_text() {
        let mut p = path(Style::Simple, false);
        p.content_type = Some("application/json".into());
        assert_eq!(
            decode_path(&p, &rgb(), "%7B%22R%22%3A1%7D"),
            Ok(json!("{\"R\":1}"))
        );
    }

    // ---- Coercion ----

    #[test]
    fn coercion_by_kind() {
        let p = path(Style::Simple, false);
        let int = Shape::Primitive(Kind::Integer);
        let num = Shape::Primitive(Kind::Number);
        let boolean = Shape::Primitive(Kind::Boolean);
        let any = Shape::Primitive(Kind::Any);
        assert_eq!(decode_path(&p, &int, "42"), Ok(json!(42)));
        assert_eq!(decode_path(&p, &int, "-7"), Ok(json!(-7)));
        assert_eq!(decode_path(&p, &int, "007"), Ok(json!(7)));
        assert_eq!(
            decode_path(&p, &int, "18446744073709551615"),
            Ok(json!(u64::MAX))
        );
        // Out of range, not integers, or not numbers: kept as text for the validator to refuse.
        for text in [
            "18446744073709551616",
            "-9223372036854775809",
            "1.5",
            "1e3",
            "+1",
            "abc",
            "",
            "-",
            "١٢",
        ] {
            assert_eq!(decode_path(&p, &int, text), Ok(json!(text)), "{text}");
        }
        assert_eq!(decode_path(&p, &num, "1.5"), Ok(json!(1.5)));
        assert_eq!(decode_path(&p, &num, "-2.5e2"), Ok(json!(-250.0)));
        assert_eq!(decode_path(&p, &num, "3"), Ok(json!(3)));
        for text in ["NaN", "inf", "infinity", "1e999", "abc", ""] {
            assert_eq!(decode_path(&p, &num, text), Ok(json!(text)), "{text}");
        }
        assert_eq!(decode_path(&p, &boolean, "true"), Ok(json!(true)));
        assert_eq!(decode_path(&p, &boolean, "false"), Ok(json!(false)));
        for text in ["True", "1", "yes", ""] {
            assert_eq!(decode_path(&p, &boolean, text), Ok(json!(text)), "{text}");
        }
        assert_eq!(decode_path(&p, &STRING, "42"), Ok(json!("42")));
        assert_eq!(decode_path(&p, &any, "true"), Ok(json!("true")));
        assert_eq!(
            decode_path(&p, &Shape::Array(Kind::Integer), "1,x,-3"),
            Ok(json!([1, "x", -3]))
        );
        assert_eq!(
            decode_path(
                &p,
                &object(&[("n", Kind::Number)], Kind::Boolean),
                "n,2.5,flag,true,x,y"
            ),
            Ok(json!({"n": 2.5, "flag": true, "x": "y"}))
        );
    }

    // ---- Query: every row of the 3.1.1 Style Examples table ----

    #[test]
    fn query_form_rows() {
        for explode in [false, true] {
            let p = query(Style::Form, explode);
            assert_eq!(one(&p, &STRING, "color="), ok(json!("")));
            assert_eq!(one(&p, &STRINGS, "color="), ok(json!([])));
            assert_eq!(one(&p, &STRING, "color=blue"), ok(blue()));
            assert_eq!(one(&p, &STRING, ""), None);
            assert_eq!(one(&p, &STRINGS, "size=1"), None);
            assert_eq!(one(&p, &rgb(), "size=1"), None);
        }
        let p = query(Style::Form, false);
        assert_eq!(one(&p, &rgb(), "color="), ok(json!({})));
        assert_eq!(one(&p, &STRINGS, "color=blue,black,brown"), ok(colors()));
        assert_eq!(one(&p, &rgb(), "color=R,100,G,200,B,150"), ok(rgb_value()));
        let p = query(Style::Form, true);
        assert_eq!(
            one(&p, &STRINGS, "color=blue&color=black&color=brown"),
            ok(colors())
        );
        assert_eq!(one(&p, &rgb(), "R=100&G=200&B=150"), ok(rgb_value()));
        // Exploded arrays keep commas inside items and the order of the pairs.
        assert_eq!(
            one(&p, &STRINGS, "color=b,c&x=1&color=a"),
            ok(json!(["b,c", "a"]))
        );
        assert_eq!(one(&p, &STRINGS, "color=&color=a"), ok(json!(["", "a"])));
    }

    #[test]
    fn query_space_and_pipe_delimited_rows() {
        let p = query(Style::SpaceDelimited, false);
        assert_eq!(
            one(&p, &STRINGS, "color=blue%20black%20brown"),
            ok(colors())
        );
        assert_eq!(one(&p, &STRINGS, "color=blue+black+brown"), ok(colors()));
        assert_eq!(
            one(&p, &rgb(), "color=R%20100%20G%20200%20B%20150"),
            ok(rgb_value())
        );
        assert_eq!(
            one(&p, &STRINGS, "color=a%2Cb%20c"),
            ok(json!(["a,b", "c"]))
        );
        let p = query(Style::PipeDelimited, false);
        assert_eq!(one(&p, &STRINGS, "color=blue|black|brown"), ok(colors()));
        assert_eq!(
            one(&p, &STRINGS, "color=blue%7Cblack%7cbrown"),
            ok(colors())
        );
        assert_eq!(one(&p, &rgb(), "color=R|100|G|200|B|150"), ok(rgb_value()));
        assert_eq!(
            one(&p, &STRINGS, "color=a+b|c,d"),
            ok(json!(["a b", "c,d"]))
        );
        assert_eq!(
            one(&p, &rgb(), "color=R|100|G"),
            Some(Err(ParamError::Malformed(
                "an object needs an even number of items (key, value, ...)"
            )))
        );
        // Exploded, they are form-exploded.
        for style in [Style::SpaceDelimited, Style::PipeDelimited] {
            let p = query(style, true);
            assert_eq!(
                one(&p, &STRINGS, "color=blue&color=black&color=brown"),
                ok(colors())
            );
            assert_eq!(one(&p, &rgb(), "R=100&G=200&B=150"), ok(rgb_value()));
        }
    }

    #[test]
    fn query_deep_object_rows() {
        let p = query(Style::DeepObject, true);
        let decoded = decode_query(&[(&p, &rgb())], "color[R]=100&color[G]=200&color[B]=150");
        assert_eq!(decoded.values, vec![ok(rgb_value())]);
        assert!(decoded.unknown.is_empty());
        // Brackets may be percent-encoded.
        assert_eq!(
            one(&p, &rgb(), "color%5BR%5D=100&color%5bG%5d=200&color[B]=150"),
            ok(rgb_value())
        );
        // Absent is None, never `{}`.
        assert_eq!(one(&p, &rgb(), ""), None);
        assert_eq!(one(&p, &rgb(), "colors[R]=1&R=1"), None);
        // Properties not declared take `other`.
        assert_eq!(
            one(&p, &rgb(), "color[R]=1&color[x]=2"),
            ok(json!({"R": 1, "x": "2"}))
        );
        let nested = Some(Err(ParamError::Malformed(
            "nested deepObject keys are not supported",
        )));
        assert_eq!(one(&p, &rgb(), "color[R][x]=1"), nested);
        assert_eq!(one(&p, &rgb(), "color[]=1"), nested);
        assert_eq!(one(&p, &rgb(), "color[R]=1&color[a][b]=2"), nested);
        assert!(matches!(
            one(&p, &rgb(), "color[R=1"),
            Some(Err(ParamError::Malformed(_)))
        ));
        assert!(matches!(
            one(&p, &rgb(), "color=1"),
            Some(Err(ParamError::Malformed(_)))
        ));
        assert_eq!(
            one(&p, &rgb(), "color[R]=1&color[R]=2"),
            Some(Err(ParamError::Repeated))
        );
        // Every `color[...]` key is the parameter's, even malformed ones.
        let decoded = decode_query(&[(&p, &rgb())], "color[a][b]=1&x=2");
        assert_eq!(decoded.unknown, vec!["x".to_string()]);
    }

    #[test]
    fn query_percent_decoding_and_plus() {
        let p = query(Style::Form, false);
        assert_eq!(one(&p, &STRING, "color=a+b%2Bc"), ok(json!("a b+c")));
        assert_eq!(one(&p, &STRINGS, "color=a%2Cb,c"), ok(json!(["a,b", "c"])));
        assert_eq!(one(&p, &STRING, "color=a%3Db%26c"), ok(json!("a=b&c")));
        // The value is everything after the first `=`.
        assert_eq!(one(&p, &STRING, "color=a=b"), ok(json!("a=b")));
        // Keys are decoded too.
        assert_eq!(
            one(&named(p.clone(), "a b"), &STRING, "a+b=1"),
            ok(json!("1"))
        );
        assert_eq!(
            one(&named(p.clone(), "a b"), &STRING, "a%20b=1"),
            ok(json!("1"))
        );
        assert_eq!(
            one(&p, &STRING, "color=%FF"),
            Some(Err(ParamError::Malformed(
                "is not valid UTF-8 once percent-decoded"
            )))
        );
        assert_eq!(
            one(&p, &Shape::Primitive(Kind::Integer), "color=-12"),
            ok(json!(-12))
        );
        assert_eq!(
            one(&p, &Shape::Array(Kind::Number), "color=1.5,x"),
            ok(json!([1.5, "x"]))
        );
    }

    #[test]
    fn query_empty_values() {
        let mut p = query(Style::Form, true);
        assert_eq!(one(&p, &STRING, "color"), ok(json!("")));
        assert_eq!(one(&p, &STRING, "color="), ok(json!("")));
        p.allow_empty_value = true;
        assert_eq!(one(&p, &STRING, "color"), ok(json!("")));
        assert_eq!(
            one(&p, &Shape::Primitive(Kind::Integer), "color="),
            ok(json!(""))
        );
        // Empty `&` segments are not keys.
        let decoded = decode_query(&[(&p, &STRING)], "&&color=x&");
        assert_eq!(decoded.values, vec![ok(json!("x"))]);
        assert!(decoded.unknown.is_empty());
    }

    #[test]
    fn query_repeated_parameters() {
        for explode in [false, true] {
            let p = query(Style::Form, explode);
            assert_eq!(
                one(&p, &STRING, "color=a&color=b"),
                Some(Err(ParamError::Repeated))
            );
        }
        assert_eq!(
            one(&query(Style::Form, false), &STRINGS, "color=1,2&color=3"),
            Some(Err(ParamError::Repeated))
        );
        assert_eq!(
            one(
                &query(Style::PipeDelimited, false),
                &STRINGS,
                "color=1|2&color=3"
            ),
            Some(Err(ParamError::Repeated))
        );
        assert_eq!(
            one(&query(Style::Form, false), &rgb(), "color=R,1&color=G,2"),
            Some(Err(ParamError::Repeated))
        );
        // An exploded object's key given twice.
        assert_eq!(
            one(&query(Style::Form, true), &rgb(), "R=1&G=2&R=3"),
            Some(Err(ParamError::Repeated))
        );
        // A repeated parameter is not unknown.
        let p = query(Style::Form, true);
        let decoded = decode_query(&[(&p, &STRING)], "color=a&color=b");
        assert!(decoded.unknown.is_empty());
    }

    #[test]
    fn query_unknown_keys() {
        let id = named(query(Style::Form, true), "id");
        let color = query(Style::Form, true);
        let int = Shape::Primitive(Kind::Integer);
        let decoded = decode_query(
            &[(&id, &int), (&color, &STRINGS)],
            "b=1&id=7&a%20x=2&b=3&color=x&c&a+x=4",
        );
        assert_eq!(decoded.values, vec![ok(json!(7)), ok(json!(["x"]))]);
        assert_eq!(decoded.unknown, vec!["b", "a x", "c"]);
        // Absent parameters stay None in their place.
        let decoded = decode_query(&[(&id, &int), (&color, &STRINGS)], "color=x");
        assert_eq!(decoded.values, vec![None, ok(json!(["x"]))]);
        // Undecodable keys are listed, lossily.
        let decoded = decode_query(&[(&id, &int)], "%FF=1");
        assert_eq!(decoded.unknown, vec!["\u{FFFD}"]);
        // An exploded object takes its declared properties only.
        let decoded = decode_query(&[(&color, &rgb())], "R=1&G=2&B=3&A=4");
        assert_eq!(decoded.values, vec![ok(json!({"R": 1, "G": 2, "B": 3}))]);
        assert_eq!(decoded.unknown, vec!["A"]);
        let decoded = decode_query(&[], "a=1&a=2");
        assert_eq!(decoded.unknown, vec!["a"]);
    }

    #[test]
    fn query_free_form_object_takes_the_keys_left() {
        let filter = named(query(Style::Form, true), "filter");
        let free = object(&[], Kind::Integer);
        let id = named(query(Style::Form, true), "id");
        let deep = named(query(Style::DeepObject, true), "page");
        let decoded = decode_query(
            &[(&filter, &free), (&id, &STRING), (&deep, &rgb())],
            "id=1&x=2&page[R]=3&y=z",
        );
        assert_eq!(
            decoded.values,
            vec![
                ok(json!({"x": 2, "y": "z"})),
                ok(json!("1")),
                ok(json!({"R": 3}))
            ]
        );
        assert!(decoded.unknown.is_empty());
        // Nothing left: absent.
        let decoded = decode_query(&[(&filter, &free), (&id, &STRING)], "id=1");
        assert_eq!(decoded.values, vec![None, ok(json!("1"))]);
        assert_eq!(
            decode_query(&[(&filter, &free)], "x=1&x=2").values,
            vec![Some(Err(ParamError::Repeated))]
        );
    }

    #[test]
    fn query_content_parameter_is_the_decoded_text() {
        let mut p = query(Style::Form, true);
        p.content_type = Some("application/json".into());
        assert_eq!(
            one(&p, &rgb(), "color=%7B%22R%22%3A+1%7D"),
            ok(json!("{\"R\": 1}"))
        );
        assert_eq!(one(&p, &rgb(), "R=1"), None);
        assert_eq!(
            one(&p, &rgb(), "color=1&color=2"),
            Some(Err(ParamError::Repeated))
        );
    }

    // ---- Headers ----

    #[test]
    fn headers() {
        let p = param(ParameterLocation::Header, Style::Simple, false);
        assert_eq!(decode_header(&p, &STRING, &["blue"]), Ok(blue()));
        assert_eq!(decode_header(&p, &STRING, &["  blue \t"]), Ok(blue()));
        assert_eq!(
            decode_header(&p, &Shape::Primitive(Kind::Integer), &[" 42 "]),
            Ok(json!(42))
        );
        // Several lines are one list.
        assert_eq!(
            decode_header(&p, &STRINGS, &["blue, black", "brown"]),
            Ok(colors())
        );
        assert_eq!(
            decode_header(&p, &STRINGS, &["blue,black,brown"]),
            Ok(colors())
        );
        assert_eq!(decode_header(&p, &STRINGS, &[" "]), Ok(json!([])));
        assert_eq!(decode_header(&p, &STRINGS, &[]), Ok(json!([])));
        // A scalar given on two lines is the joined text, which an integer schema refuses.
        assert_eq!(
            decode_header(&p, &Shape::Primitive(Kind::Integer), &["1", "2"]),
            Ok(json!("1,2"))
        );
        assert_eq!(
            decode_header(&p, &rgb(), &["R, 100, G, 200", "B,150"]),
            Ok(rgb_value())
        );
        assert!(decode_header(&p, &rgb(), &["R,100,G"]).is_err());
        let p = param(ParameterLocation::Header, Style::Simple, true);
        assert_eq!(
            decode_header(&p, &rgb(), &["R=100, G=200,B = 150"]),
            Ok(rgb_value())
        );
        assert_eq!(
            decode_header(&p, &STRINGS, &["blue,black,brown"]),
            Ok(colors())
        );
        // Not percent-decoded.
        assert_eq!(
            decode_header(&p, &STRING, &["a%20b+c"]),
            Ok(json!("a%20b+c"))
        );
        let mut p = p;
        p.content_type = Some("application/json".into());
        assert_eq!(
            decode_header(&p, &rgb(), &[" {\"R\": 1, \"G\": 2} "]),
            Ok(json!("{\"R\": 1, \"G\": 2}"))
        );
    }

    // ---- Cookies ----

    #[test]
    fn cookies() {
        let p = param(ParameterLocation::Cookie, Style::Form, true);
        assert_eq!(decode_cookie(&p, &STRING, &[]), None);
        assert_eq!(decode_cookie(&p, &STRING, &["size=1; colour=2"]), None);
        assert_eq!(
            decode_cookie(&p, &STRING, &["size=1; color=blue; x=2"]),
            ok(blue())
        );
        assert_eq!(
            decode_cookie(&p, &STRING, &["size=1;color=blue"]),
            ok(blue())
        );
        assert_eq!(
            decode_cookie(&p, &STRING, &["a=1", "color=blue"]),
            ok(blue())
        );
        assert_eq!(decode_cookie(&p, &STRING, &["color="]), ok(json!("")));
        assert_eq!(decode_cookie(&p, &STRING, &["color=\"blue\""]), ok(blue()));
        // Names are case-sensitive; pairs without `=` are skipped.
        assert_eq!(decode_cookie(&p, &STRING, &["Color=blue; color"]), None);
        // Percent-decoded, but `+` stays.
        assert_eq!(
            decode_cookie(&p, &STRING, &["color=a+b%20c%3B"]),
            ok(json!("a+b c;"))
        );
        assert!(matches!(
            decode_cookie(&p, &STRING, &["color=%FF"]),
            Some(Err(ParamError::Malformed(_)))
        ));
        // The same cookie twice, in one header or two.
        assert_eq!(
            decode_cookie(&p, &STRING, &["color=a; color=b"]),
            Some(Err(ParamError::Repeated))
        );
        assert_eq!(
            decode_cookie(&p, &STRING, &["color=a", "color=a"]),
            Some(Err(ParamError::Repeated))
        );
        assert_eq!(
            decode_cookie(&p, &Shape::Primitive(Kind::Integer), &["color=12"]),
            ok(json!(12))
        );
        for explode in [false, true] {
            let p = param(ParameterLocation::Cookie, Style::Form, explode);
            assert_eq!(
                decode_cookie(&p, &STRINGS, &["color=blue,black,brown"]),
                ok(colors())
            );
            assert_eq!(
                decode_cookie(&p, &STRINGS, &["color=a%2Cb,c"]),
                ok(json!(["a,b", "c"]))
            );
            assert_eq!(decode_cookie(&p, &STRINGS, &["color="]), ok(json!([])));
            assert_eq!(
                decode_cookie(&p, &rgb(), &["x=1; color=R,100,G,200,B,150"]),
                ok(rgb_value())
            );
            assert!(matches!(
                decode_cookie(&p, &rgb(), &["color=R,100,G"]),
                Some(Err(ParamError::Malformed(_)))
            ));
        }
        let mut p = p;
        p.content_type = Some("application/json".into());
        assert_eq!(
            decode_cookie(&p, &rgb(), &["color=%7B%22R%22%3A1%7D"]),
            ok(json!("{\"R\":1}"))
        );
    }

    #[test]
    fn errors_display_without_the_value() {
        assert_eq!(ParamError::Repeated.to_string(), "is given more than once");
        let p = path(Style::Label, false);
        let error = decode_path(&p, &STRING, "secret-value").unwrap_err();
        assert!(!error.to_string().contains("secret"));
    }

    // ---- No panics ----

    /// xorshift64*: deterministic, no crates.
    struct Rng(u64);

    impl Rng {
        fn step(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.step() % n as u64) as usize
        }

        /// Text made of pieces that matter to the decoders, or of random bytes.
        fn text(&mut self) -> String {
            const PIECES: &[&str] = &[
                "color",
                "R",
                "G",
                "1",
                "-",
                "0",
                "9",
                ".",
                ",",
                ";",
                "=",
                "&",
                "|",
                "+",
                " ",
                "%",
                "%2C",
                "%20",
                "%7C",
                "%FF",
                "%C3",
                "%C3%A9",
                "%zz",
                "%2",
                "[",
                "]",
                "color[",
                "é",
                "\t",
                "\"",
                "e",
                "true",
                "€",
                "\u{0}",
                "18446744073709551616",
            ];
            if self.below(8) == 0 {
                let bytes: Vec<u8> = (0..self.below(24)).map(|_| self.step() as u8).collect();
                return String::from_utf8_lossy(&bytes).into_owned();
            }
            (0..self.below(16))
                .map(|_| PIECES[self.below(PIECES.len())])
                .collect()
        }
    }

    #[test]
    fn no_input_panics() {
        let styles = [
            Style::Matrix,
            Style::Label,
            Style::Simple,
            Style::Form,
            Style::SpaceDelimited,
            Style::PipeDelimited,
            Style::DeepObject,
        ];
        let kinds = [
            Kind::String,
            Kind::Integer,
            Kind::Number,
            Kind::Boolean,
            Kind::Any,
        ];
        let mut shapes: Vec<Shape> = kinds.iter().map(|k| Shape::Primitive(*k)).collect();
        shapes.extend(kinds.iter().map(|k| Shape::Array(*k)));
        shapes.push(rgb());
        shapes.push(object(&[], Kind::Integer));
        shapes.push(object(
            &[("color", Kind::Number), ("", Kind::Any)],
            Kind::Boolean,
        ));
        let mut params = Vec::new();
        for style in styles {
            for explode in [false, true] {
                for content in [false, true] {
                    let mut p = query(style, explode);
                    p.content_type = content.then(|| "application/json".to_string());
                    params.push(p);
                }
            }
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..1000 {
            let raw = rng.text();
            let lines = [rng.text(), rng.text()];
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            for p in &params {
                let p = if rng.below(4) == 0 {
                    named(p.clone(), &rng.text())
                } else {
                    p.clone()
                };
                for shape in &shapes {
                    let _ = decode_path(&p, shape, &raw);
                    let _ = decode_header(&p, shape, &lines);
                    let _ = decode_cookie(&p, shape, &lines);
                }
            }
            let input: Vec<(&Parameter, &Shape)> = params
                .iter()
                .enumerate()
                .map(|(i, p)| (p, &shapes[i % shapes.len()]))
                .collect();
            let decoded = decode_query(&input, &raw);
            assert_eq!(decoded.values.len(), input.len());
        }
    }

    #[test]
    fn no_schema_panics() {
        const KEYS: &[&str] = &[
            "type",
            "$ref",
            "allOf",
            "items",
            "properties",
            "additionalProperties",
            "enum",
            "const",
        ];
        fn schema(rng: &mut Rng, depth: usize) -> Value {
            match rng.below(if depth > 3 { 4 } else { 8 }) {
                0 => {
                    let names = ["string", "null", "integer", "array", "object", "x"];
                    json!(names[rng.below(names.len())])
                }
                1 => json!(format!("#/$defs/s{}", rng.below(4))),
                2 => json!(rng.below(3) == 0),
                3 => json!(rng.text()),
                4 | 5 => {
                    let mut map = Map::new();
                    for _ in 0..rng.below(4) {
                        let key = KEYS[rng.below(KEYS.len())];
                        map.insert(key.to_string(), schema(rng, depth + 1));
                    }
                    Value::Object(map)
                }
                _ => Value::Array((0..rng.below(4)).map(|_| schema(rng, depth + 1)).collect()),
            }
        }
        let mut rng = Rng(42);
        for _ in 0..300 {
            let defs: Map<String, Value> = (0..4)
                .map(|i| (format!("s{i}"), schema(&mut rng, 0)))
                .collect();
            let plan = plan(Value::Object(defs));
            let root = schema(&mut rng, 0);
            let _ = Shape::of(&plan, Some(&root));
        }
    }
}
