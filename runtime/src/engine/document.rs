//! A JSON request body read in place: strings and keys borrow the body's bytes, and the validator
//! reads this tree directly (jsonschema's custom-representation API), so a valid body costs one
//! vector per object or array and an allocation only for strings with escapes.
//!
//! Building a `serde_json::Value` instead (a hash map and an owned string per key, an owned string
//! per value) was most of the sidecar's work per request in the load benchmark.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, Node, NodeIdentity, Object};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// One JSON value of a request body; strings borrow from the text it was read from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Document<'t> {
    #[default]
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'t, str>),
    Array(Vec<Document<'t>>),
    Object(Members<'t>),
}

/// An object's members in document order.
#[derive(Debug, Clone, PartialEq)]
pub struct Members<'t> {
    entries: Vec<(Cow<'t, str>, Document<'t>)>,
    /// Member indexes sorted by name, for objects too large to search in order.
    by_name: Option<Box<[u32]>>,
}

/// Objects up to this many members are searched in order; larger ones get a sorted index, so that
/// a body of many keys cannot make each property lookup of the schema slow.
const SCANNED_MEMBERS: usize = 16;

impl<'t> Members<'t> {
    fn new(
        entries: Vec<(Cow<'t, str>, Document<'t>)>,
        reject_duplicates: bool,
    ) -> Result<Self, String> {
        let by_name = if entries.len() > SCANNED_MEMBERS {
            let mut order: Vec<u32> = (0..entries.len() as u32).collect();
            // Stable, so equal names keep document order and the last one can win below.
            order.sort_by(|&a, &b| entries[a as usize].0.cmp(&entries[b as usize].0));
            Some(order.into_boxed_slice())
        } else {
            None
        };
        let members = Self { entries, by_name };
        if let Some(name) = members.repeated_name() {
            if reject_duplicates {
                return Err(format!("duplicate key `{name}`"));
            }
            return Ok(members.last_of_each_name());
        }
        Ok(members)
    }

    /// A name that two members share, if any.
    fn repeated_name(&self) -> Option<&str> {
        match &self.by_name {
            Some(order) => order
                .windows(2)
                .map(|pair| {
                    (
                        &self.entries[pair[0] as usize].0,
                        &self.entries[pair[1] as usize].0,
                    )
                })
                .find(|(a, b)| a == b)
                .map(|(a, _)| a.as_ref()),
            None => self.entries.iter().enumerate().find_map(|(i, (name, _))| {
                self.entries[..i]
                    .iter()
                    .any(|(earlier, _)| earlier == name)
                    .then_some(name.as_ref())
            }),
        }
    }

    /// With repeats allowed, a name keeps its first place and its last value (as serde_json's map).
    fn last_of_each_name(self) -> Self {
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        // Stable: each run of equal names is in document order.
        order.sort_by(|&a, &b| self.entries[a].0.cmp(&self.entries[b].0));
        let runs: Vec<&[usize]> = order
            .chunk_by(|&a, &b| self.entries[a].0 == self.entries[b].0)
            .filter(|run| run.len() > 1)
            .collect();
        let runs: Vec<Vec<usize>> = runs.into_iter().map(<[usize]>::to_vec).collect();
        let mut slots: Vec<Option<(Cow<'t, str>, Document<'t>)>> =
            self.entries.into_iter().map(Some).collect();
        for run in runs {
            let (first, later) = (run[0], &run[1..]);
            let value = later
                .last()
                .and_then(|&last| slots[last].take())
                .map(|(_, value)| value);
            for &copy in later {
                slots[copy] = None;
            }
            if let (Some(slot), Some(value)) = (slots[first].as_mut(), value) {
                slot.1 = value;
            }
        }
        let entries = slots.into_iter().flatten().collect();
        Self::new(entries, true).unwrap_or_else(|_| unreachable!("names are unique now"))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Document<'t>> {
        match &self.by_name {
            Some(order) => order
                .binary_search_by(|&i| self.entries[i as usize].0.as_ref().cmp(name))
                .ok()
                .map(|at| &self.entries[order[at] as usize].1),
            None => self
                .entries
                .iter()
                .find(|(member, _)| member == name)
                .map(|(_, value)| value),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Document<'t>)> {
        self.entries
            .iter()
            .map(|(name, value)| (name.as_ref(), value))
    }
}

impl<'t> Document<'t> {
    /// Reads JSON text with no repeated key in any object (unless `reject_duplicates` is false: then
    /// the last copy wins) and at most `max_depth` levels of nesting. Error messages start as
    /// [`specgate_plan::json::parse_bounded`]'s do: `duplicate key`, `nesting deeper than`.
    pub fn parse(
        text: &'t [u8],
        max_depth: u32,
        reject_duplicates: bool,
    ) -> Result<Self, serde_json::Error> {
        // JSON text is UTF-8 (RFC 8259 §8.1). Checked once for the whole body, it is not checked
        // again for each string as reading bytes would: that was a fifth of the parse.
        let text = std::str::from_utf8(text).map_err(|e| {
            de::Error::custom(format_args!("invalid UTF-8 at byte {}", e.valid_up_to()))
        })?;
        let mut de = serde_json::Deserializer::from_str(text);
        let max_depth = max_depth.min(specgate_plan::json::DEPTH_CEILING);
        let scratch = Scratch::default();
        let document = Reader {
            depth_left: max_depth,
            max_depth,
            reject_duplicates,
            scratch: &scratch,
        }
        .deserialize(&mut de)?;
        de.end()?;
        Ok(document)
    }

    /// A document over a value decoded another way (a form or multipart body).
    pub fn from_value(value: &'t Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Number(n.clone()),
            Value::String(s) => Self::String(Cow::Borrowed(s)),
            Value::Array(items) => Self::Array(items.iter().map(Self::from_value).collect()),
            Value::Object(map) => Self::Object(
                Members::new(
                    map.iter()
                        .map(|(name, value)| {
                            (Cow::Borrowed(name.as_str()), Self::from_value(value))
                        })
                        .collect(),
                    false,
                )
                .unwrap_or_else(|_| unreachable!("repeats are allowed")),
            ),
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => Value::Number(n.clone()),
            Self::String(s) => Value::String(s.as_ref().to_owned()),
            Self::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            Self::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(name, value)| (name.to_owned(), value.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Members and items of the objects and arrays being read, innermost last: each object or array
/// is built once its end is reached, with exactly the room it needs.
#[derive(Default)]
struct Scratch<'t> {
    members: RefCell<Vec<(Cow<'t, str>, Document<'t>)>>,
    items: RefCell<Vec<Document<'t>>>,
}

#[derive(Clone, Copy)]
struct Reader<'s, 't> {
    depth_left: u32,
    max_depth: u32,
    reject_duplicates: bool,
    scratch: &'s Scratch<'t>,
}

impl Reader<'_, '_> {
    fn nested<E: de::Error>(self) -> Result<Self, E> {
        let depth_left = specgate_plan::json::nested(self.depth_left, self.max_depth)?;
        Ok(Self { depth_left, ..self })
    }
}

impl<'t> DeserializeSeed<'t> for Reader<'_, 't> {
    type Value = Document<'t>;
    fn deserialize<D: Deserializer<'t>>(self, d: D) -> Result<Document<'t>, D::Error> {
        d.deserialize_any(self)
    }
}

/// A member name, borrowed from the text when it has no escapes.
struct Name<'t>(Cow<'t, str>);

impl<'t> de::Deserialize<'t> for Name<'t> {
    fn deserialize<D: Deserializer<'t>>(d: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'t> Visitor<'t> for NameVisitor {
            type Value = Name<'t>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'t str) -> Result<Name<'t>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'t>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Name<'t>, E> {
                Ok(Name(Cow::Owned(v)))
            }
        }
        d.deserialize_str(NameVisitor)
    }
}

impl<'t> Visitor<'t> for Reader<'_, 't> {
    type Value = Document<'t>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Document<'t>, E> {
        Ok(Document::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Document<'t>, E> {
        Ok(Document::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Document<'t>, E> {
        Ok(Document::Number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Document<'t>, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Document::Null, Document::Number))
    }
    fn visit_borrowed_str<E>(self, v: &'t str) -> Result<Document<'t>, E> {
        Ok(Document::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Document<'t>, E> {
        Ok(Document::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Document<'t>, E> {
        Ok(Document::String(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Document<'t>, E> {
        Ok(Document::Null)
    }
    fn visit_seq<A: SeqAccess<'t>>(self, mut seq: A) -> Result<Document<'t>, A::Error> {
        let inner = self.nested()?;
        let start = self.scratch.items.borrow().len();
        while let Some(item) = seq.next_element_seed(inner)? {
            self.scratch.items.borrow_mut().push(item);
        }
        let items = self.scratch.items.borrow_mut().split_off(start);
        Ok(Document::Array(items))
    }
    fn visit_map<A: MapAccess<'t>>(self, mut access: A) -> Result<Document<'t>, A::Error> {
        let inner = self.nested()?;
        let start = self.scratch.members.borrow().len();
        while let Some(Name(name)) = access.next_key::<Name<'t>>()? {
            let value = access.next_value_seed(inner)?;
            self.scratch.members.borrow_mut().push((name, value));
        }
        let entries = self.scratch.members.borrow_mut().split_off(start);
        Members::new(entries, self.reject_duplicates)
            .map(Document::Object)
            .map_err(de::Error::custom)
    }
}

/// [`Document`] as a representation the validator reads.
#[derive(Debug)]
pub struct DocumentJson;

impl Json for DocumentJson {
    type Node<'a> = &'a Document<'a>;
    type PreparedKey = String;
    type StringBuffer = Document<'static>;
    /// Small objects are searched in order, so a pass over their members is as cheap as a lookup.
    const KEYS_PER_LOOKUP: usize = 2;
    /// A tree: no node contains itself.
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Document<'static>,
        string: &str,
        f: impl FnOnce(Self::Node<'_>) -> T,
    ) -> T {
        *buffer = Document::String(Cow::Owned(string.to_owned()));
        f(buffer)
    }
}

impl<'a> Node<'a, DocumentJson> for &'a Document<'a> {
    type Object = &'a Members<'a>;
    type Array = &'a [Document<'a>];
    type Number = &'a serde_json::Number;

    fn as_object(&self) -> Option<&'a Members<'a>> {
        match self {
            Document::Object(members) => Some(members),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<&'a [Document<'a>]> {
        match self {
            Document::Array(items) => Some(items),
            _ => None,
        }
    }
    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self {
            Document::String(text) => Some(Cow::Borrowed(text.as_ref())),
            _ => None,
        }
    }
    fn as_number(&self) -> Option<&'a serde_json::Number> {
        match self {
            Document::Number(number) => Some(number),
            _ => None,
        }
    }
    fn as_boolean(&self) -> Option<bool> {
        match self {
            Document::Bool(b) => Some(*b),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self, Document::Null)
    }
    fn json_type(&self) -> JsonType {
        match self {
            Document::Null => JsonType::Null,
            Document::Bool(_) => JsonType::Boolean,
            Document::Number(_) => JsonType::Number,
            Document::String(_) => JsonType::String,
            Document::Array(_) => JsonType::Array,
            Document::Object(_) => JsonType::Object,
        }
    }
    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(Document::to_value(self))
    }
    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(
            std::ptr::from_ref::<Document<'a>>(*self) as usize
        ))
    }
}

impl<'a> Object<'a, DocumentJson> for &'a Members<'a> {
    type Node = &'a Document<'a>;
    type MemberName = &'a str;
    type MembersIter = MembersIter<'a>;

    fn len(&self) -> usize {
        Members::len(self)
    }
    fn get(&self, key: &String) -> Option<&'a Document<'a>> {
        Members::get(self, key)
    }
    fn members(&self) -> MembersIter<'a> {
        MembersIter(self.entries.iter())
    }
}

#[derive(Debug)]
pub struct MembersIter<'a>(std::slice::Iter<'a, (Cow<'a, str>, Document<'a>)>);

impl<'a> Iterator for MembersIter<'a> {
    type Item = (&'a str, &'a Document<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(name, value)| (name.as_ref(), value))
    }
}

impl<'a> Array<'a, DocumentJson> for &'a [Document<'a>] {
    type Node = &'a Document<'a>;
    type ElementsIter = std::slice::Iter<'a, Document<'a>>;

    fn len(&self) -> usize {
        <[Document<'a>]>::len(self)
    }
    fn elements(&self) -> std::slice::Iter<'a, Document<'a>> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Result<Document<'_>, String> {
        Document::parse(text.as_bytes(), 64, true).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_what_serde_json_reads() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "x\"y"], "b": {"c": "d"}, "e": ""}"#;
        let document = parse(text).unwrap();
        assert_eq!(
            document.to_value(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        // Strings without escapes borrow the text; the others are decoded.
        let Document::Object(members) = &document else {
            panic!("an object")
        };
        assert!(matches!(
            members.get("e"),
            Some(Document::String(Cow::Borrowed("")))
        ));
        let Some(Document::Array(items)) = members.get("a") else {
            panic!("an array")
        };
        assert!(matches!(&items[5], Document::String(Cow::Owned(s)) if s == "x\"y"));
    }

    #[test]
    fn refuses_repeated_keys_small_and_large_objects_alike() {
        assert!(
            parse(r#"{"a": {"role": "user", "role": "admin"}}"#)
                .unwrap_err()
                .starts_with("duplicate key `role`")
        );
        let mut large: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        large.push("\"k7\": 0".into());
        let text = format!("{{{}}}", large.join(","));
        assert!(parse(&text).unwrap_err().starts_with("duplicate key `k7`"));
        assert!(parse(r#"{"a": 1, "b": {"a": 2}}"#).is_ok());
        assert!(
            parse(r#"{"a\u0062": 1, "ab": 2}"#).is_err(),
            "escapes are decoded first"
        );
    }

    #[test]
    fn text_must_be_utf8_inside_strings_and_out() {
        let document = Document::parse("{\"name\": \"Zoë 🚀\"}".as_bytes(), 8, true).unwrap();
        assert_eq!(document.to_value(), json!({"name": "Zoë 🚀"}));
        for text in [&b"{\"name\": \"Zo\xeb\"}"[..], b"{\"a\": 1}\xff", b"\xc3"] {
            let e = Document::parse(text, 8, true).unwrap_err().to_string();
            assert!(e.starts_with("invalid UTF-8 at byte"), "{e}");
        }
    }

    #[test]
    fn with_repeats_allowed_the_last_copy_wins_in_the_first_place() {
        let document = Document::parse(br#"{"a": 1, "b": 2, "a": 3}"#, 8, false).unwrap();
        assert_eq!(document.to_value().to_string(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn large_objects_are_searched_by_name() {
        let text = format!(
            "{{{}}}",
            (0..100)
                .rev()
                .map(|i| format!("\"k{i}\": {i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let document = parse(&text).unwrap();
        let Document::Object(members) = &document else {
            panic!("an object")
        };
        for i in 0..100 {
            assert_eq!(
                members.get(&format!("k{i}")),
                Some(&Document::Number(i.into()))
            );
        }
        assert_eq!(members.get("k100"), None);
        assert_eq!(members.iter().next().map(|(name, _)| name), Some("k99"));
    }

    #[test]
    fn bounds_nesting() {
        assert!(Document::parse(b"[[[1]]]", 3, true).is_ok());
        let e = Document::parse(b"[[[[1]]]]", 3, true).unwrap_err();
        assert!(
            e.to_string().starts_with("nesting deeper than 3 levels"),
            "{e}"
        );
        let deep = "[".repeat(1000) + &"]".repeat(1000);
        assert!(Document::parse(deep.as_bytes(), 10_000, true).is_err());
    }

    #[test]
    fn the_validator_reads_documents_as_it_reads_values() {
        let schema = json!({
            "type": "object",
            "required": ["id", "tags"],
            "additionalProperties": false,
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "uniqueItems": true},
                "kind": {"enum": ["a", "b"]},
                "extra": {"type": "object"}
            }
        });
        let validator = jsonschema::options_for::<DocumentJson>()
            .build(&schema)
            .unwrap();
        let plain = jsonschema::validator_for(&schema).unwrap();
        for text in [
            r#"{"id": 1, "tags": ["a", "b"]}"#,
            r#"{"id": 1, "tags": ["a", "a"]}"#,
            r#"{"id": 0, "tags": []}"#,
            r#"{"id": 1.0, "tags": [], "kind": "a"}"#,
            r#"{"id": 1, "tags": [], "kind": "c"}"#,
            r#"{"id": 1, "tags": ["long"]}"#,
            r#"{"id": 1, "tags": [], "other": 1}"#,
            r#"{"id": 1, "tags": [], "extra": {"x": [1]}}"#,
            r#"{"tags": []}"#,
            r#"[1]"#,
        ] {
            let document = parse(text).unwrap();
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                validator.is_valid(&document),
                plain.is_valid(&value),
                "{text}"
            );
            let paths = |errors: Vec<String>| errors;
            assert_eq!(
                paths(
                    validator
                        .iter_errors(&document)
                        .map(|e| e.instance_path().to_string())
                        .collect()
                ),
                paths(
                    plain
                        .iter_errors(&value)
                        .map(|e| e.instance_path().to_string())
                        .collect()
                ),
                "{text}"
            );
        }
    }
}
