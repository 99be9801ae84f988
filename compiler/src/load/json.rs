//! JSON text to a value (serde_json, refusing duplicate keys) and, when a diagnostic needs them, the
//! source positions of its nodes (a small scanner over text serde_json has already accepted).

use serde_json::Value;

use super::spans::{Pos, SpanNode, Spans, SpansBuilder};
use super::{Limits, ParseError};

/// Parses JSON text, refusing duplicate keys and nesting beyond `limits.max_depth` (at most 128).
pub fn parse(text: &str, limits: &Limits) -> Result<Value, ParseError> {
    let depth = u32::try_from(limits.max_depth).unwrap_or(u32::MAX);
    specgate_plan::json::parse_strict(text.as_bytes(), depth).map_err(|e| {
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
        let hint = if message.starts_with("nesting deeper") || message.contains("recursion limit") {
            "no spec needs this depth; flatten the data or split it with $ref"
        } else if message.starts_with("duplicate key") {
            "JSON parsers disagree on which copy wins; keep one"
        } else {
            "check for a missing or extra comma, bracket or quote near here"
        };
        ParseError {
            pointer: pointer_at(text, pos),
            pos,
            message: format!("invalid JSON: {message}"),
            hint: Some(hint.to_owned()),
        }
    })
}

/// Positions of every node of JSON text that serde_json has accepted.
pub fn spans(text: &str) -> Spans {
    let mut scanner = Scanner::new(text);
    scanner.skip_ws();
    let start = scanner.pos();
    let root = scanner.value(start, None).unwrap_or_default();
    std::mem::take(&mut scanner.spans).finish(root)
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
    spans: SpansBuilder,
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
            spans: SpansBuilder::default(),
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
                let from = self.spans.pending.len();
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
                            self.spans.pending.push(child?);
                        }
                        _ => return None,
                    }
                }
                Some(self.spans.close(key, at, from))
            }
            b'[' => {
                self.bump();
                let from = self.spans.pending.len();
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
                            self.path
                                .push((self.spans.pending.len() - from).to_string());
                            let start = self.pos();
                            let child = self.value(start, None);
                            self.path.pop();
                            self.spans.pending.push(child?);
                        }
                    }
                }
                Some(self.spans.close(key, at, from))
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
        let p = locate(
            &value,
            &spans,
            &Default::default(),
            "/paths/~1a~0b/get/x/2/y",
            false,
        );
        assert_eq!((p.line, p.column), (3, 42));
        let k = locate(
            &value,
            &spans,
            &Default::default(),
            "/paths/~1a~0b/get/x/2/y",
            true,
        );
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
        assert!(e.message.contains("nesting deeper than"), "{}", e.message);
    }
}
