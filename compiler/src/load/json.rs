//! JSON text to a value (serde_json, refusing duplicate keys) and, when a diagnostic needs them, the
//! source positions of its nodes (a small scanner over text serde_json has already accepted).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::spans::{Pos, SpanNode};
use super::{Limits, ParseError};

/// Parses JSON text, refusing duplicate keys and nesting beyond serde_json's recursion limit (128).
pub fn parse(text: &str, _limits: &Limits) -> Result<Value, ParseError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            let mut pos = Pos {
                line: e.line() as u32,
                column: e.column() as u32,
            };
            let message = e.to_string();
            // serde_json appends " at line L column C"; the location is reported separately.
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(m, _)| m)
                .to_owned();
            // serde_json stops on a duplicate key's closing quote; point at its opening one.
            if let Some(key) = message
                .strip_prefix("duplicate key `")
                .and_then(|m| m.split('`').next())
            {
                pos.column = pos
                    .column
                    .saturating_sub(key.chars().count() as u32 + 1)
                    .max(1);
            }
            let hint = if message.contains("recursion limit") {
                Some("the document nests deeper than 128 levels".to_owned())
            } else if message.starts_with("duplicate key") {
                Some("JSON parsers disagree on which copy wins; keep one".to_owned())
            } else {
                Some("check for a missing or extra comma, bracket or quote near here".to_owned())
            };
            ParseError {
                pointer: pointer_at(text, pos),
                pos,
                message: format!("invalid JSON: {message}"),
                hint,
            }
        })?;
    Ok(value)
}

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            let value = access.next_value_seed(StrictValue)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

/// Positions of every node of JSON text that serde_json has accepted.
pub fn spans(text: &str) -> SpanNode {
    let mut scanner = Scanner::new(text);
    scanner.skip_ws();
    let start = scanner.pos();
    scanner.value(start, None).unwrap_or_default()
}

/// The JSON pointer of the innermost node that contains `target` (for syntax errors).
fn pointer_at(text: &str, target: Pos) -> String {
    let mut scanner = Scanner::new(text);
    scanner.stop_at = Some(target);
    scanner.skip_ws();
    let start = scanner.pos();
    let _ = scanner.value(start, None);
    scanner.path_at_stop.unwrap_or_default()
}

struct Scanner<'a> {
    bytes: &'a [u8],
    i: usize,
    line: u32,
    column: u32,
    /// The path from the root to the node being scanned, as escaped pointer segments.
    path: Vec<String>,
    stop_at: Option<Pos>,
    path_at_stop: Option<String>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            i: 0,
            line: 1,
            column: 1,
            path: Vec::new(),
            stop_at: None,
            path_at_stop: None,
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    fn bump(&mut self) {
        if let Some(&b) = self.bytes.get(self.i) {
            self.i += 1;
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if b & 0xC0 != 0x80 {
                self.column += 1;
            }
        }
        if let Some(stop) = self.stop_at
            && self.path_at_stop.is_none()
            && (self.line, self.column) >= (stop.line, stop.column)
        {
            self.path_at_stop = Some(self.path.iter().map(|s| format!("/{s}")).collect());
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.bump();
        }
    }

    /// Scans a string, returning its raw (still escaped) contents.
    fn string(&mut self) -> Option<String> {
        self.bump(); // opening quote
        let start = self.i;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                _ => self.bump(),
            }
        }
        let raw = std::str::from_utf8(&self.bytes[start..self.i])
            .ok()?
            .to_owned();
        self.bump(); // closing quote
        Some(raw)
    }

    fn value(&mut self, key: Pos, _name: Option<&str>) -> Option<SpanNode> {
        let at = self.pos();
        match self.peek()? {
            b'{' => {
                self.bump();
                let mut children = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek()? {
                        b'}' => {
                            self.bump();
                            break;
                        }
                        b',' => {
                            self.bump();
                            continue;
                        }
                        b'"' => {
                            let key_pos = self.pos();
                            let raw = self.string()?;
                            let name: String =
                                serde_json::from_str(&format!("\"{raw}\"")).unwrap_or(raw);
                            self.skip_ws();
                            if self.peek()? != b':' {
                                return None;
                            }
                            self.bump();
                            self.skip_ws();
                            self.path.push(specgate_plan::escape_pointer(&name));
                            let child = self.value(key_pos, Some(&name));
                            self.path.pop();
                            children.push(child?);
                        }
                        _ => return None,
                    }
                }
                Some(SpanNode {
                    key,
                    value: at,
                    children,
                })
            }
            b'[' => {
                self.bump();
                let mut children = Vec::new();
                loop {
                    self.skip_ws();
                    match self.peek()? {
                        b']' => {
                            self.bump();
                            break;
                        }
                        b',' => {
                            self.bump();
                            continue;
                        }
                        _ => {
                            self.path.push(children.len().to_string());
                            let start = self.pos();
                            let child = self.value(start, None);
                            self.path.pop();
                            children.push(child?);
                        }
                    }
                }
                Some(SpanNode {
                    key,
                    value: at,
                    children,
                })
            }
            b'"' => {
                self.string()?;
                Some(SpanNode::leaf(key, at))
            }
            _ => {
                while matches!(self.peek(), Some(b) if !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                {
                    self.bump();
                }
                Some(SpanNode::leaf(key, at))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::spans::locate;
    use super::*;

    #[test]
    fn positions_of_nested_nodes() {
        let text = "{\n  \"paths\": {\n    \"/a~b\": {\"get\": {\"x\": [1, \"é\", {\"y\": true}]}}\n  }\n}\n";
        let value = parse(text, &Limits::default()).unwrap_or_else(|e| panic!("{}", e.message));
        let spans = spans(text);
        let p = locate(&value, &spans, "/paths/~1a~0b/get/x/2/y", false);
        assert_eq!((p.line, p.column), (3, 42));
        let k = locate(&value, &spans, "/paths/~1a~0b/get/x/2/y", true);
        assert_eq!((k.line, k.column), (3, 37));
    }

    #[test]
    fn refuses_duplicate_keys() {
        let e = parse("{\"a\": {\"b\": 1, \"b\": 2}}", &Limits::default()).unwrap_err();
        assert!(e.message.contains("duplicate key `b`"), "{}", e.message);
        assert_eq!(e.pos.line, 1);
        assert_eq!(e.pointer, "/a");
    }

    #[test]
    fn syntax_errors_name_the_enclosing_node() {
        let e = parse("{\"a\": {\"b\": [1, 2,, 3]}}", &Limits::default()).unwrap_err();
        assert!(e.message.starts_with("invalid JSON"), "{}", e.message);
        assert_eq!(e.pointer, "/a/b");
    }

    #[test]
    fn bounds_depth() {
        let text = "[".repeat(200) + &"]".repeat(200);
        let e = parse(&text, &Limits::default()).unwrap_err();
        assert!(e.message.contains("recursion limit"), "{}", e.message);
    }
}
