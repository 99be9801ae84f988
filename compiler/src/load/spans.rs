//! Source positions of every node of a parsed file, kept beside the `serde_json::Value` tree.
//!
//! A [`SpanNode`] mirrors the shape of its value: an object's children are in the object's own key
//! order (serde_json keeps insertion order here), an array's in index order. Walking a JSON pointer
//! through both trees at once gives the position of any node without storing a pointer per node.

use serde_json::Value;

/// A position in a file: line and column count from 1, columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, Default)]
pub struct SpanNode {
    /// Where the key of this member starts (objects' members), else where the value starts.
    pub key: Pos,
    /// Where the value starts.
    pub value: Pos,
    pub children: Vec<SpanNode>,
}

impl SpanNode {
    pub fn leaf(key: Pos, value: Pos) -> Self {
        Self {
            key,
            value,
            children: Vec::new(),
        }
    }
}

/// The position of the node at `pointer`, or of its deepest existing ancestor when the pointer leads
/// nowhere. For the last segment of an object member, the key's position is given when `at_key`.
pub fn locate(root_value: &Value, root_span: &SpanNode, pointer: &str, at_key: bool) -> Pos {
    let mut value = root_value;
    let mut span = root_span;
    let mut pos = span.value;
    if pointer.is_empty() {
        return pos;
    }
    for raw in pointer.strip_prefix('/').unwrap_or(pointer).split('/') {
        let segment: std::borrow::Cow<str> = if raw.contains('~') {
            specgate_plan::unescape_pointer(raw).into()
        } else {
            raw.into()
        };
        let found = match value {
            Value::Object(map) => map
                .iter()
                .enumerate()
                .find(|(_, (k, _))| **k == *segment)
                .map(|(i, (_, v))| (i, v)),
            Value::Array(items) => segment
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i).map(|v| (i, v))),
            _ => None,
        };
        let Some((child_span, child)) =
            found.and_then(|(i, v)| span.children.get(i).map(|s| (s, v)))
        else {
            return pos;
        };
        value = child;
        span = child_span;
        pos = if at_key { span.key } else { span.value };
    }
    pos
}
