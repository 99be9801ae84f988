//! YAML text to a JSON value and its source positions, in one pass over saphyr's event stream.
//!
//! Why saphyr-parser: `serde_yaml` is deprecated, and its maintained forks (serde_yaml_ng, serde_norway)
//! keep the C-to-Rust translation of libyaml and give no position per node. saphyr-parser is pure safe
//! Rust, follows YAML 1.2 (it passes the yaml-test-suite) and gives a span for every event, which is what
//! file:line:column on every diagnostic needs. Building the value straight from events also lets us
//! refuse duplicate keys and bound alias expansion (billion laughs) and nesting depth as we go.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

use super::spans::{Pos, SpanNode, Spans, SpansBuilder};
use super::{Limits, ParseError};

/// A parsed node: its value, its positions and how many nodes it holds (for the alias budget).
#[derive(Clone)]
struct Node {
    value: Value,
    span: SpanNode,
    size: usize,
}

enum Frame {
    Map {
        map: Map<String, Value>,
        /// Where this map's members start in the builder's pending spans.
        spans: usize,
        /// The key waiting for its value, with the key's position and segment for error pointers.
        key: Option<(String, Pos)>,
        /// Keys that came from a `<<` merge: an explicit key may replace them.
        merged: Vec<String>,
        anchor: usize,
        start: Pos,
        size: usize,
    },
    Seq {
        items: Vec<Value>,
        /// Where this sequence's items start in the builder's pending spans.
        spans: usize,
        anchor: usize,
        start: Pos,
        size: usize,
    },
}

struct Builder<'a> {
    limits: &'a Limits,
    frames: Vec<Frame>,
    spans: SpansBuilder,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    root: Option<Node>,
    documents: usize,
}

fn pos(span: &Span) -> Pos {
    Pos {
        line: span.start.line() as u32,
        column: span.start.col() as u32 + 1,
    }
}

type Item<'t> = Result<(Event<'t>, Span), saphyr_parser::ScanError>;

/// Parses one YAML document into a value and its positions.
pub fn parse(text: &str, limits: &Limits) -> Result<(Value, Spans), ParseError> {
    let mut builder = Builder {
        limits,
        frames: Vec::new(),
        spans: SpansBuilder::default(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        root: None,
        documents: 0,
    };
    for item in Parser::new_from_str(text) {
        builder.handle(item)?;
    }
    match builder.root {
        Some(node) => Ok((node.value, builder.spans.finish(node.span))),
        None => Ok((Value::Null, Spans::default())),
    }
}

impl Builder<'_> {
    /// Takes one event of the stream.
    fn handle(&mut self, item: Item<'_>) -> Result<(), ParseError> {
        let (event, span) = item.map_err(|e| ParseError {
            pos: Pos {
                line: e.marker().line() as u32,
                column: e.marker().col() as u32 + 1,
            },
            pointer: self.pointer(),
            message: format!("invalid YAML: {}", e.info()),
            hint: Some("check the indentation and quoting around this line".into()),
        })?;
        let at = pos(&span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(self.error(
                        at,
                        "the file holds more than one YAML document",
                        Some("an OpenAPI file is a single document; remove the extra `---`"),
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = self.scalar(
                    &text,
                    style,
                    tag.as_deref()
                        .map(|t| (t.handle.as_str(), t.suffix.as_str())),
                    at,
                )?;
                self.push(value, anchor, at, Some(&text))?;
            }
            Event::MappingStart(anchor, _) => self.open(
                Frame::Map {
                    map: Map::new(),
                    spans: self.spans.pending.len(),
                    key: None,
                    merged: Vec::new(),
                    anchor,
                    start: at,
                    size: 1,
                },
                at,
            )?,
            Event::SequenceStart(anchor, _) => self.open(
                Frame::Seq {
                    items: Vec::new(),
                    spans: self.spans.pending.len(),
                    anchor,
                    start: at,
                    size: 1,
                },
                at,
            )?,
            Event::MappingEnd | Event::SequenceEnd => self.close()?,
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| self.error(at, "alias to an unknown anchor", None))?;
                self.alias_nodes += node.size;
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(self.error(
                        at,
                        &format!(
                            "YAML aliases expand to more than {} nodes",
                            self.limits.max_alias_nodes
                        ),
                        Some("this looks like an alias bomb (billion laughs); write the data out or use $ref"),
                    ));
                }
                let key_text = node.value.as_str().map(str::to_owned);
                self.attach(node, at, key_text.as_deref())?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }
}

impl Builder<'_> {
    fn pointer(&self) -> String {
        let mut out = String::new();
        for frame in &self.frames {
            out.push('/');
            match frame {
                Frame::Map {
                    key: Some((k, _)), ..
                } => out.push_str(&specgate_plan::escape_pointer(k)),
                Frame::Map { key: None, .. } => {
                    out.pop();
                }
                Frame::Seq { items, .. } => out.push_str(&items.len().to_string()),
            }
        }
        out
    }

    fn error(&self, pos: Pos, message: &str, hint: Option<&str>) -> ParseError {
        ParseError {
            pos,
            pointer: self.pointer(),
            message: message.to_owned(),
            hint: hint.map(str::to_owned),
        }
    }

    fn open(&mut self, frame: Frame, at: Pos) -> Result<(), ParseError> {
        if let Some(Frame::Map { key: None, .. }) = self.frames.last() {
            return Err(self.error(
                at,
                "a mapping or sequence used as a mapping key",
                Some("OpenAPI documents only use text keys"),
            ));
        }
        if self.frames.len() >= self.limits.max_depth {
            return Err(self.error(
                at,
                &format!("nesting deeper than {} levels", self.limits.max_depth),
                Some("no spec needs this depth; flatten the data or split it with $ref"),
            ));
        }
        self.frames.push(frame);
        Ok(())
    }

    fn close(&mut self) -> Result<(), ParseError> {
        let Some(frame) = self.frames.pop() else {
            return Ok(());
        };
        let (node, anchor, start) = match frame {
            Frame::Map {
                map,
                spans,
                anchor,
                start,
                size,
                ..
            } => (
                Node {
                    value: Value::Object(map),
                    span: self.spans.close(start, start, spans),
                    size,
                },
                anchor,
                start,
            ),
            Frame::Seq {
                items,
                spans,
                anchor,
                start,
                size,
            } => (
                Node {
                    value: Value::Array(items),
                    span: self.spans.close(start, start, spans),
                    size,
                },
                anchor,
                start,
            ),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.attach(node, start, None)
    }

    fn push(
        &mut self,
        value: Value,
        anchor: usize,
        at: Pos,
        raw: Option<&str>,
    ) -> Result<(), ParseError> {
        let node = Node {
            value,
            span: SpanNode::leaf(at, at),
            size: 1,
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.attach(node, at, raw)
    }

    /// Adds a finished node to the open collection (or makes it the root).
    fn attach(&mut self, mut node: Node, at: Pos, raw: Option<&str>) -> Result<(), ParseError> {
        let Some(frame) = self.frames.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match frame {
            Frame::Seq { items, size, .. } => {
                *size += node.size;
                items.push(node.value);
                self.spans.pending.push(node.span);
            }
            Frame::Map {
                map,
                spans,
                key,
                merged,
                size,
                ..
            } => match key.take() {
                None => {
                    // This scalar is a key.
                    let Some(text) = raw
                        .map(str::to_owned)
                        .or_else(|| node.value.as_str().map(str::to_owned))
                    else {
                        return Err(self.error(at, "a mapping key must be text", None));
                    };
                    *key = Some((text, at));
                }
                Some((k, key_pos)) => {
                    *size += node.size;
                    node.span.key = key_pos;
                    if k == "<<" {
                        merge_into(map, &mut self.spans, merged, node);
                        return Ok(());
                    }
                    // One hash per key: the entry tells a new key from a repeated one.
                    let repeated = match map.entry(k) {
                        serde_json::map::Entry::Vacant(slot) => {
                            slot.insert(node.value);
                            self.spans.pending.push(node.span);
                            None
                        }
                        serde_json::map::Entry::Occupied(slot) => Some((slot.key().clone(), node)),
                    };
                    let Some((k, node)) = repeated else {
                        return Ok(());
                    };
                    let index = map.keys().position(|x| *x == k).unwrap_or_default();
                    if let Some(i) = merged.iter().position(|m| *m == k) {
                        // An explicit key overrides one merged in with `<<`.
                        merged.swap_remove(i);
                        map.insert(k, node.value);
                        self.spans.pending[*spans + index] = node.span;
                        return Ok(());
                    }
                    let first = self.spans.pending[*spans + index].key;
                    let message = format!(
                        "duplicate key `{k}` (first defined at line {}, column {})",
                        first.line, first.column
                    );
                    return Err(self.error(
                        key_pos,
                        &message,
                        Some("YAML parsers disagree on which copy wins; keep one"),
                    ));
                }
            },
        }
        Ok(())
    }

    /// Resolves a scalar by the YAML 1.2 core schema (plain scalars) or its explicit core tag.
    fn scalar(
        &self,
        text: &str,
        style: ScalarStyle,
        tag: Option<(&str, &str)>,
        at: Pos,
    ) -> Result<Value, ParseError> {
        let core = match tag {
            None => None,
            Some(("!!", suffix)) | Some(("tag:yaml.org,2002:", suffix)) => Some(suffix),
            Some((handle, suffix)) => {
                return Err(self.error(
                    at,
                    &format!("YAML tag `{handle}{suffix}` is not supported"),
                    Some("OpenAPI documents are plain data; use $ref to include other files"),
                ));
            }
        };
        let plain = matches!(style, ScalarStyle::Plain);
        let bad = |what: &str| self.error(at, &format!("`{text}` is not a valid {what}"), None);
        match core {
            Some("str") | Some("binary") => Ok(Value::String(text.to_owned())),
            Some("null") => Ok(Value::Null),
            Some("bool") => resolve_bool(text)
                .map(Value::Bool)
                .ok_or_else(|| bad("boolean")),
            Some("int") | Some("float") => resolve_number(text)
                .map(Value::Number)
                .ok_or_else(|| bad("number")),
            Some("map") | Some("seq") | Some("timestamp") | Some("set") | Some("omap")
            | Some("pairs") | Some("merge") | Some("value") => Ok(Value::String(text.to_owned())),
            Some(other) => {
                Err(self.error(at, &format!("YAML tag `!!{other}` is not supported"), None))
            }
            None if !plain => Ok(Value::String(text.to_owned())),
            None => {
                if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
                    return Ok(Value::Null);
                }
                if let Some(b) = resolve_bool(text) {
                    return Ok(Value::Bool(b));
                }
                if looks_numeric(text) {
                    if let Some(n) = resolve_number(text) {
                        return Ok(Value::Number(n));
                    }
                    if matches!(
                        text.trim_start_matches(['+', '-']),
                        ".inf" | ".Inf" | ".INF" | ".nan" | ".NaN" | ".NAN"
                    ) {
                        return Err(self.error(
                            at,
                            &format!("`{text}` has no JSON equivalent"),
                            Some("quote it to keep it as text"),
                        ));
                    }
                }
                Ok(Value::String(text.to_owned()))
            }
        }
    }
}

fn merge_into(
    map: &mut Map<String, Value>,
    spans: &mut SpansBuilder,
    merged: &mut Vec<String>,
    node: Node,
) {
    let sources: Vec<(Value, SpanNode)> = match node.value {
        Value::Object(_) => vec![(node.value, node.span)],
        Value::Array(items) => items
            .into_iter()
            .zip(spans.children_of(&node.span).to_vec())
            .collect(),
        _ => return,
    };
    for (value, span) in sources {
        if let Value::Object(source) = value {
            let members = spans.children_of(&span).to_vec();
            for ((k, v), s) in source.into_iter().zip(members) {
                if !map.contains_key(&k) {
                    merged.push(k.clone());
                    map.insert(k, v);
                    spans.pending.push(s);
                }
            }
        }
    }
}

/// The value of a plain (unquoted) scalar by the YAML 1.2 core schema: null, booleans, integers and
/// floats; anything else, including `.inf` and `.nan`, is text.
pub fn resolve_plain(text: &str) -> Value {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(b) = resolve_bool(text) {
        return Value::Bool(b);
    }
    if looks_numeric(text)
        && let Some(n) = resolve_number(text)
    {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

fn resolve_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn looks_numeric(text: &str) -> bool {
    text.as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.'))
}

/// Integers (decimal, `0o` octal, `0x` hex) and floats of the YAML 1.2 core schema.
fn resolve_number(text: &str) -> Option<Number> {
    if let Some(hex) = text.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(Number::from);
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return u64::from_str_radix(oct, 8).ok().map(Number::from);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let unsigned = text.strip_prefix('+').unwrap_or(text);
        if let Ok(i) = unsigned.parse::<i64>() {
            return Some(Number::from(i));
        }
        if let Ok(u) = unsigned.parse::<u64>() {
            return Some(Number::from(u));
        }
    }
    // A float: digits with an optional fraction and exponent, and at least one digit.
    let valid_float = {
        let mut seen_digit = false;
        let mut seen_dot = false;
        let mut seen_exp = false;
        let bytes = digits.as_bytes();
        let mut i = 0;
        let mut ok = !bytes.is_empty();
        while i < bytes.len() && ok {
            match bytes[i] {
                b'0'..=b'9' => seen_digit = true,
                b'.' if !seen_dot && !seen_exp => seen_dot = true,
                b'e' | b'E' if seen_digit && !seen_exp => {
                    seen_exp = true;
                    if matches!(bytes.get(i + 1), Some(b'+' | b'-')) {
                        i += 1;
                    }
                    ok = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
                }
                _ => ok = false,
            }
            i += 1;
        }
        ok && seen_digit
    };
    if valid_float {
        return text
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(Number::from_f64);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_ok(text: &str) -> Value {
        parse(text, &Limits::default())
            .unwrap_or_else(|e| panic!("{}", e.message))
            .0
    }

    fn parse_err(text: &str) -> ParseError {
        match parse(text, &Limits::default()) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn resolves_core_schema_scalars() {
        let v = parse_ok(
            "a: 1\nb: -2.5\nc: true\nd: ~\ne: '1'\nf: 0x1F\ng: 1e3\nh: 3.0.3\n200: x\ni: yes\nj: 18446744073709551615\n",
        );
        assert_eq!(
            v,
            json!({"a": 1, "b": -2.5, "c": true, "d": null, "e": "1", "f": 31, "g": 1000.0, "h": "3.0.3", "200": "x", "i": "yes", "j": 18446744073709551615u64})
        );
    }

    #[test]
    fn refuses_duplicate_keys_with_both_positions() {
        let e = parse_err("a: 1\nb:\n  c: 1\n  c: 2\n");
        assert_eq!((e.pos.line, e.pos.column), (4, 3));
        assert_eq!(e.pointer, "/b");
        assert!(
            e.message.contains("first defined at line 3, column 3"),
            "{}",
            e.message
        );
    }

    #[test]
    fn expands_aliases_and_merge_keys() {
        let v = parse_ok("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        assert_eq!(v["use"], json!({"x": 1, "y": 3}));
        assert_eq!(v["list"], json!([{"x": 1, "y": 2}]));
    }

    #[test]
    fn stops_alias_bombs() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            text.push_str(&format!(
                "{}: &{} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n",
                (b'a' + i) as char,
                (b'a' + i) as char,
                p = (b'a' + i - 1) as char
            ));
        }
        let e = parse_err(&text);
        assert!(e.message.contains("aliases expand"), "{}", e.message);
    }

    #[test]
    fn bounds_depth() {
        let text = "[".repeat(500) + &"]".repeat(500);
        let e = parse_err(&text);
        assert!(
            e.message.contains("nesting deeper") || e.message.contains("recursion limit"),
            "{}",
            e.message
        );
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let e = parse_err("a: 1\nb: [1, 2\nc: 3\n");
        assert!(e.message.starts_with("invalid YAML"), "{}", e.message);
        assert!(e.pos.line >= 2);
    }

    #[test]
    fn refuses_custom_tags_and_complex_keys() {
        assert!(
            parse_err("a: !include other.yaml\n")
                .message
                .contains("not supported")
        );
        assert!(parse_err("? [a, b]\n: 1\n").message.contains("mapping key"));
    }

    #[test]
    fn keeps_positions_for_every_node() {
        let text = "openapi: 3.1.0\npaths:\n  /pets:\n    get:\n      operationId: list\n";
        let (v, spans) =
            parse(text, &Limits::default()).unwrap_or_else(|e| panic!("{}", e.message));
        let p = super::super::spans::locate(
            &v,
            &spans,
            &Default::default(),
            "/paths/~1pets/get/operationId",
            false,
        );
        assert_eq!((p.line, p.column), (5, 20));
        let k = super::super::spans::locate(
            &v,
            &spans,
            &Default::default(),
            "/paths/~1pets/get/operationId",
            true,
        );
        assert_eq!((k.line, k.column), (5, 7));
    }
}
