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
    /// The position and value of the member an escaped pointer segment names.
    fn member<'v>(
        &self,
        map: &'v serde_json::Map<String, Value>,
        escaped: &str,
    ) -> Option<(usize, &'v Value)> {
        use std::hash::BuildHasher;
        let escaped_key = escaped.contains('~');
        if map.len() <= INDEXED_FROM {
            return map
                .iter()
                .enumerate()
                .find(|(_, (k, _))| {
                    if escaped_key {
                        specgate_plan::pointer_segment_is(escaped, k)
                    } else {
                        k.as_str() == escaped
                    }
                })
                .map(|(i, (_, v))| (i, v));
        }
        let key: std::borrow::Cow<str> = if escaped_key {
            specgate_plan::unescape_pointer(escaped).into()
        } else {
            escaped.into()
        };
        let value = map.get(key.as_ref())?;
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
        let position = index.get(&self.hasher.hash_one(key.as_ref())).copied()?;
        Some((position, value))
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
    Walker::default().locate(root_value, spans, index, pointer, at_key)
}

/// Locates one pointer after another in the same file, each walk resuming where it parts from the
/// previous one. Rules report in document order, so consecutive findings share most of their path
/// (`/paths/~1v1~1accounts/post/requestBody/…/properties/`), and the shared part is walked once.
#[derive(Debug, Default)]
pub struct Walker<'v> {
    root: Option<&'v Value>,
    /// The pointer walked last.
    pointer: String,
    /// One step per segment of `pointer` that was found: where the segment ends in `pointer`, and
    /// the node it leads to.
    steps: Vec<Step<'v>>,
}

#[derive(Debug, Clone, Copy)]
struct Step<'v> {
    end: usize,
    value: &'v Value,
    span: &'v SpanNode,
}

impl<'v> Walker<'v> {
    /// As [`locate`].
    pub fn locate(
        &mut self,
        root_value: &'v Value,
        spans: &'v Spans,
        index: &KeyIndex,
        pointer: &str,
        at_key: bool,
    ) -> Pos {
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return self.locate(root_value, spans, index, &format!("/{pointer}"), at_key);
        }
        if !self.root.is_some_and(|r| std::ptr::eq(r, root_value)) {
            self.root = Some(root_value);
            self.pointer.clear();
            self.steps.clear();
        }
        // Keep the steps whose segments the new pointer repeats, each up to a segment boundary.
        let shared = self
            .pointer
            .bytes()
            .zip(pointer.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let kept = self
            .steps
            .iter()
            .take_while(|step| {
                step.end <= shared
                    && (pointer.len() == step.end || pointer.as_bytes()[step.end] == b'/')
            })
            .count();
        self.steps.truncate(kept);
        let (mut end, mut value, mut span) = self
            .steps
            .last()
            .map_or((0, root_value, spans.root()), |step| {
                (step.end, step.value, step.span)
            });
        if end < pointer.len() {
            for raw in pointer[end + 1..].split('/') {
                let found = match value {
                    Value::Object(map) => index.member(map, raw),
                    Value::Array(items) => raw
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| items.get(i).map(|v| (i, v))),
                    _ => None,
                };
                let Some((child_span, child)) =
                    found.and_then(|(i, v)| spans.children(span).get(i).map(|s| (s, v)))
                else {
                    break;
                };
                end += 1 + raw.len();
                value = child;
                span = child_span;
                self.steps.push(Step { end, value, span });
            }
        }
        self.pointer.clear();
        self.pointer.push_str(pointer);
        match self.steps.last() {
            Some(step) if at_key => step.span.key,
            Some(step) => step.span.value,
            None => spans.root().value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use crate::load::json;

    /// Every pointer to a node of `value`, in document order.
    fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
        out.push(at.clone());
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    pointers(v, format!("{at}/{}", specgate_plan::escape_pointer(k)), out);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    pointers(v, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn a_walker_finds_what_a_fresh_walk_finds_in_any_order() {
        let big: Vec<String> = (0..40)
            .map(|i| format!("\"k{i}\": {{\"v\": [{i}]}}"))
            .collect();
        let text = format!(
            "{{\n \"paths\": {{\"/a~b\": {{\"get\": {{\"x\": [1, {{\"y\": true}}]}}}}, \"/a\": {{\"\": 2}}}},\n \"big\": {{\n{}\n }},\n \"a\": {{\"ab\": 1, \"a\": {{\"b\": 2}}}}\n}}\n",
            big.join(",\n")
        );
        let value =
            json::parse(&text, &Limits::default()).unwrap_or_else(|e| panic!("{}", e.message));
        let spans = json::spans(&text);
        let index = KeyIndex::default();
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        // Pointers that lead nowhere, or part of the way.
        all.extend(
            [
                "/nope",
                "/paths/~1a~0b/get/x/7",
                "/big/k3/w",
                "/a/a/b/c",
                "/big/k39/v/0/x",
                "/a/a",
                "/a/ab",
                "/a/a",
            ]
            .map(String::from),
        );
        let forwards = all.clone();
        let backwards: Vec<String> = all.iter().rev().cloned().collect();
        let interleaved: Vec<String> = all
            .iter()
            .step_by(3)
            .chain(all.iter().skip(1).step_by(2))
            .cloned()
            .collect();
        for order in [forwards, backwards, interleaved] {
            let mut walker = Walker::default();
            for pointer in &order {
                for at_key in [false, true] {
                    assert_eq!(
                        walker.locate(&value, &spans, &index, pointer, at_key),
                        locate(&value, &spans, &index, pointer, at_key),
                        "{pointer} (at_key: {at_key})"
                    );
                }
            }
        }
        // The walks found real positions: the last key of the big object is on its own line.
        let p = locate(&value, &spans, &index, "/big/k39", true);
        assert_eq!((p.line, p.column), (43, 1));
    }
}
