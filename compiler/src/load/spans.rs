//! Source positions of every node of a parsed file, kept beside the `serde_json::Value` tree.
//!
//! A [`SpanNode`] mirrors the shape of its value: an object's children are in the object's own key
//! order (serde_json keeps insertion order here), an array's in index order; they live in one arena,
//! [`Spans`]. Walking a JSON pointer
//! through both trees at once gives the position of any node without storing a pointer per node.

use serde_json::Value;

/// A position in a file: line and column count from 1, columns count characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// The positions of one node; its children (object members in key order, array items in index
/// order) are a run of the [`Spans`] arena.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanNode {
    /// Where the key of this member starts (objects' members), else where the value starts.
    pub key: Pos,
    /// Where the value starts.
    pub value: Pos,
    first_child: u32,
    children: u32,
}

impl SpanNode {
    pub fn leaf(key: Pos, value: Pos) -> Self {
        Self {
            key,
            value,
            first_child: 0,
            children: 0,
        }
    }
}

/// Every node's positions in one arena: a file of any size costs a handful of allocations, not one
/// per object and array (which made building and dropping them a good part of loading a large spec).
#[derive(Debug, Default)]
pub struct Spans {
    arena: Vec<SpanNode>,
    root: SpanNode,
}

impl Spans {
    pub fn root(&self) -> &SpanNode {
        &self.root
    }

    /// The children of `node`, in order.
    pub fn children(&self, node: &SpanNode) -> &[SpanNode] {
        let first = node.first_child as usize;
        self.arena
            .get(first..first + node.children as usize)
            .unwrap_or(&[])
    }
}

/// Builds [`Spans`] bottom-up: children wait in `pending` while their container is open, and move
/// into the arena, together, when it closes.
#[derive(Debug, Default)]
pub struct SpansBuilder {
    arena: Vec<SpanNode>,
    /// Children of the containers still open, innermost last.
    pub pending: Vec<SpanNode>,
}

impl SpansBuilder {
    /// Closes a container whose children are `pending[from..]`.
    pub fn close(&mut self, key: Pos, value: Pos, from: usize) -> SpanNode {
        let first_child = self.arena.len() as u32;
        let children = (self.pending.len() - from) as u32;
        self.arena.extend(self.pending.drain(from..));
        SpanNode {
            key,
            value,
            first_child,
            children,
        }
    }

    /// A container whose children are already in the arena (those of `source`, as an alias repeats
    /// an anchored node), or copies of arbitrary nodes.
    pub fn children_of(&self, source: &SpanNode) -> &[SpanNode] {
        let first = source.first_child as usize;
        self.arena
            .get(first..first + source.children as usize)
            .unwrap_or(&[])
    }

    pub fn finish(self, root: SpanNode) -> Spans {
        Spans {
            arena: self.arena,
            root,
        }
    }
}

/// Key positions of large objects, built once per object when first searched: objects with many
/// members (`paths`, `components/schemas`) would otherwise be scanned linearly for every location.
/// Keys are held by a keyed 64-bit hash rather than copied: a collision could only misplace a
/// diagnostic's line, never change what is reported.
#[derive(Debug, Default)]
pub struct KeyIndex {
    /// Keyed by the address of the object inside the (never mutated) value tree.
    by_object:
        std::sync::Mutex<std::collections::HashMap<usize, std::collections::HashMap<u64, usize>>>,
    hasher: std::collections::hash_map::RandomState,
}

/// Objects with more members than this get an index.
const INDEXED_FROM: usize = 32;

impl KeyIndex {
    fn position(&self, map: &serde_json::Map<String, Value>, key: &str) -> Option<usize> {
        use std::hash::BuildHasher;
        if map.len() <= INDEXED_FROM {
            return map.keys().position(|k| k == key);
        }
        let address = map as *const _ as usize;
        let mut by_object = self
            .by_object
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let index = by_object.entry(address).or_insert_with(|| {
            map.keys()
                .enumerate()
                .map(|(i, k)| (self.hasher.hash_one(k.as_str()), i))
                .collect()
        });
        index.get(&self.hasher.hash_one(key)).copied()
    }
}

/// The position of the node at `pointer`, or of its deepest existing ancestor when the pointer leads
/// nowhere. For the last segment of an object member, the key's position is given when `at_key`.
pub fn locate(
    root_value: &Value,
    spans: &Spans,
    index: &KeyIndex,
    pointer: &str,
    at_key: bool,
) -> Pos {
    let mut value = root_value;
    let mut span = spans.root();
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
            Value::Object(map) => index
                .position(map, &segment)
                .and_then(|i| map.get(segment.as_ref()).map(|v| (i, v))),
            Value::Array(items) => segment
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i).map(|v| (i, v))),
            _ => None,
        };
        let Some((child_span, child)) =
            found.and_then(|(i, v)| spans.children(span).get(i).map(|s| (s, v)))
        else {
            return pos;
        };
        value = child;
        span = child_span;
        pos = if at_key { span.key } else { span.value };
    }
    pos
}
