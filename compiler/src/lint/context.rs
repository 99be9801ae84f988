//! What rules see: operations with their effective security and policy, their parameters, bodies and
//! responses as spec nodes, and every request-side schema node once, with the operations reaching it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock as OnceCell};

use serde_json::{Map, Value};
use specgate_plan::{Operation, Plan};

use crate::load::{FileId, Node, Spec};

use crate::normalize::{LIST, MAP, ONE};

/// One operation as the linter sees it.
#[derive(Debug)]
pub struct OperationView<'p> {
    pub plan: &'p Operation,
    /// `METHOD /path`.
    pub label: String,
    /// The operation object in the spec.
    pub node: Node<'p>,
    /// The path item that holds it.
    pub path_item: Node<'p>,
    parameters: OnceCell<Vec<Node<'p>>>,
}

/// Where a request schema sits relative to its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position<'s> {
    /// The schema of a parameter or of a request body media type.
    Root,
    /// The value of `properties/<name>`.
    Property(&'s str),
    /// A branch of `allOf`.
    AllOfBranch,
    /// A branch of `anyOf` or `oneOf`.
    Alternative,
    /// Under any other keyword (`items`, `additionalProperties`, `not`…).
    Other(&'s str),
}

/// A schema object reachable from a request, visited once.
#[derive(Debug)]
pub struct SchemaSite<'s> {
    pub node: Node<'s>,
    pub position: Position<'s>,
    /// An enclosing schema (through compositions and `$ref`s only) says `unevaluatedProperties: false`.
    pub closed_by_composition: bool,
    /// Every operation that reaches this node.
    pub operations: std::sync::Arc<BTreeSet<usize>>,
    /// The site is the whole value of a shared schema reached by `$ref`.
    pub is_ref_target: bool,
    /// The site is a shared schema used only as a branch of `allOf`: the composing schema is judged.
    pub composed_only: bool,
    merged: OnceCell<Keywords<'s>>,
}

impl<'s> SchemaSite<'s> {
    /// The keywords that hold for this schema as a whole: its own (beside a 3.1 `$ref` too), then those
    /// of its `$ref` target and `allOf` branches, the first occurrence of each winning. Computed once,
    /// shared by every rule, and borrowed from the spec (nothing is copied).
    /// `None` for a schema judged through the one composing it (an `allOf` branch, or a shared schema
    /// used only as one).
    pub fn whole(&self, cx: &LintContext<'s>) -> Option<&Keywords<'s>> {
        if self.position == Position::AllOfBranch || self.composed_only {
            return None;
        }
        Some(self.merged(cx))
    }

    /// Like [`Self::whole`], for any site.
    pub fn merged(&self, cx: &LintContext<'s>) -> &Keywords<'s> {
        self.merged.get_or_init(|| merge_keywords(cx, &self.node))
    }

    pub fn value(&self) -> &Map<String, Value> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        self.node
            .value()
            .as_object()
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
    }
}

pub struct LintContext<'s> {
    pub spec: &'s Spec,
    pub plan: &'s Plan,
    pub operations: Vec<OperationView<'s>>,
    sites: OnceCell<Vec<SchemaSite<'s>>>,
    /// `$ref`s in request schemas that do not resolve, found while collecting sites.
    broken: Mutex<Vec<crate::diagnostic::Diagnostic>>,
}

impl std::fmt::Debug for LintContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LintContext")
            .field("operations", &self.operations.len())
            .finish()
    }
}

impl<'s> LintContext<'s> {
    pub fn new(spec: &'s Spec, plan: &'s Plan) -> Self {
        let files = spec.files();
        let operations = plan
            .operations
            .iter()
            .map(|op| {
                let file_id = files
                    .iter()
                    .position(|f| f.portable_path() == op.origin.file)
                    .unwrap_or(0);
                let node = spec.node(file_id, &op.origin.pointer);
                let parent = op.origin.pointer.rsplit_once('/').map_or("", |(p, _)| p);
                OperationView {
                    plan: op,
                    label: format!("{} {}", op.method.as_str(), op.path),
                    node,
                    path_item: spec.node(file_id, parent),
                    parameters: OnceCell::new(),
                }
            })
            .collect();
        Self {
            spec,
            plan,
            operations,
            sites: OnceCell::new(),
            broken: Default::default(),
        }
    }

    /// The parameters of an operation (path-item ones overridden by the operation's), dereferenced.
    pub fn parameters(&self, op: usize) -> &[Node<'s>] {
        self.operations[op]
            .parameters
            .get_or_init(|| self.find_parameters(op))
    }

    fn find_parameters(&self, op: usize) -> Vec<Node<'s>> {
        let view = &self.operations[op];
        let mut out: Vec<Node<'s>> = Vec::new();
        for holder in [&view.path_item, &view.node] {
            let list = holder.child("parameters");
            let count = list.value().as_array().map_or(0, Vec::len);
            for i in 0..count {
                let Ok(p) = self.spec.deref(&list.child(&i.to_string())) else {
                    continue;
                };
                let key = |n: &Node| (n.value().get("name").cloned(), n.value().get("in").cloned());
                match out.iter_mut().find(|q| key(q) == key(&p)) {
                    Some(slot) => *slot = p,
                    None => out.push(p),
                }
            }
        }
        out
    }

    /// The parameters of an operation with their `name` and `in`, skipping malformed ones.
    pub fn named_parameters(
        &self,
        op: usize,
    ) -> impl Iterator<Item = (&Node<'s>, &'s str, &'s str)> {
        self.parameters(op).iter().filter_map(|p| {
            let value = p.value();
            Some((p, value.get("name")?.as_str()?, value.get("in")?.as_str()?))
        })
    }

    /// The request body object of an operation, dereferenced.
    pub fn request_body(&self, op: usize) -> Option<Node<'s>> {
        let node = self.operations[op].node.child("requestBody");
        node.value()
            .is_object()
            .then(|| self.spec.deref(&node).ok())
            .flatten()
    }

    /// The declared responses of an operation by status code (`"200"`, `"4XX"`, `"default"`), dereferenced.
    pub fn responses(&self, op: usize) -> Vec<(String, Node<'s>)> {
        let responses = self.operations[op].node.child("responses");
        let keys: Vec<String> = responses
            .value()
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        keys.into_iter()
            .filter_map(|code| {
                let node = self.spec.deref(&responses.child(&code)).ok()?;
                Some((code, node))
            })
            .collect()
    }

    /// Whether the operation declares a response with this status (or its `NXX` range).
    pub fn has_response(&self, op: usize, status: u16) -> bool {
        let range = format!("{}XX", status / 100);
        self.operations[op]
            .node
            .value()
            .get("responses")
            .and_then(Value::as_object)
            .is_some_and(|r| {
                r.contains_key(&status.to_string())
                    || r.keys().any(|k| k.eq_ignore_ascii_case(&range))
            })
    }

    /// Follows `$ref`s, giving `None` when they are broken (compilation has reported that already).
    pub fn deref(&self, node: &Node<'s>) -> Option<Node<'s>> {
        self.spec.deref(node).ok()
    }

    /// Whether a schema describes an object: `type: object`, declared properties, or an `allOf`
    /// with an object among its branches (following `$ref`s).
    pub fn is_object_schema(&self, node: &Node<'s>) -> bool {
        self.is_object_at(node, 0)
    }

    fn is_object_at(&self, node: &Node<'s>, depth: usize) -> bool {
        let Some(map) = node.value().as_object() else {
            return false;
        };
        let typed = match map.get("type") {
            Some(Value::String(t)) => t == "object",
            Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
            _ => false,
        };
        if typed
            || map
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty())
        {
            return true;
        }
        if depth > 16 {
            return false;
        }
        let branches = map
            .get("allOf")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        (0..branches).any(|i| {
            let branch = node.child("allOf").child(&i.to_string());
            self.deref(&branch)
                .is_some_and(|b| self.is_object_at(&b, depth + 1))
        })
    }

    /// Errors met while walking request schemas (unresolvable or cyclic `$ref`s), in document order.
    pub fn broken_refs(&self) -> Vec<crate::diagnostic::Diagnostic> {
        let _ = self.request_schemas();
        let mut broken = self.broken.lock().map(|b| b.clone()).unwrap_or_default();
        broken.sort_by(|a, b| {
            (&a.location.file, a.location.line, a.location.column).cmp(&(
                &b.location.file,
                b.location.line,
                b.location.column,
            ))
        });
        broken.dedup();
        broken
    }

    /// Every schema object reachable from a request (parameters and bodies), each once.
    pub fn request_schemas(&self) -> &[SchemaSite<'s>] {
        self.sites.get_or_init(|| collect_sites(self))
    }
}

/// A shared schema reached by `$ref` (or a root schema), and what refers to it.
struct Unit {
    /// Units this one refers to, and whether each reference sits under a closing composition.
    edges: Vec<(usize, bool)>,
    /// First and one-past-last index of this unit's sites.
    sites: std::ops::Range<usize>,
    /// Every reference to the unit sits under a closing composition.
    closed_by_referrers: Option<bool>,
    /// Every reference to the unit is a branch of `allOf`.
    only_all_of_branch: Option<bool>,
}

fn collect_sites<'s>(cx: &LintContext<'s>) -> Vec<SchemaSite<'s>> {
    let mut units: Vec<Unit> = Vec::new();
    let mut index: HashMap<(FileId, String), usize> = HashMap::new();
    let mut sites: Vec<SchemaSite<'s>> = Vec::new();
    // Roots of each operation: parameter schemas and body media-type schemas.
    let mut roots_of: Vec<Vec<usize>> = Vec::new();
    for op in 0..cx.operations.len() {
        let mut schema_nodes = Vec::new();
        for parameter in cx.parameters(op) {
            if parameter.value().get("schema").is_some() {
                schema_nodes.push(parameter.child("schema"));
            }
            media_schemas(&parameter.child("content"), &mut schema_nodes);
        }
        if let Some(body) = cx.request_body(op) {
            media_schemas(&body.child("content"), &mut schema_nodes);
        }
        let mut roots = Vec::new();
        for node in schema_nodes {
            roots.push(unit_for(
                cx, node, &mut units, &mut index, &mut sites, false,
            ));
        }
        roots_of.push(roots);
    }
    // Which operations reach each unit.
    let mut reached: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); units.len()];
    for (op, roots) in roots_of.iter().enumerate() {
        let mut stack = roots.clone();
        while let Some(u) = stack.pop() {
            if reached[u].insert(op) {
                stack.extend(units[u].edges.iter().map(|(t, _)| *t));
            }
        }
    }
    // Every site of a unit shares the unit's set of operations.
    let shared: Vec<std::sync::Arc<BTreeSet<usize>>> =
        reached.into_iter().map(std::sync::Arc::new).collect();
    for (u, unit) in units.iter().enumerate() {
        let closed = unit.closed_by_referrers.unwrap_or(false);
        let composed_only = unit.only_all_of_branch.unwrap_or(false);
        for (i, site) in sites[unit.sites.clone()].iter_mut().enumerate() {
            site.operations = shared[u].clone();
            site.closed_by_composition |= closed;
            site.composed_only = composed_only && i == 0;
        }
    }
    sites.retain(|s| !s.operations.is_empty());
    sites
}

fn media_schemas<'s>(content: &Node<'s>, out: &mut Vec<Node<'s>>) {
    if let Some(map) = content.value().as_object() {
        for (media, value) in map {
            if value.get("schema").is_some() {
                out.push(content.child(media).child("schema"));
            }
        }
    }
}

/// The unit for a schema node (following `$ref`s to their target), walking it when new.
fn unit_for<'s>(
    cx: &LintContext<'s>,
    node: Node<'s>,
    units: &mut Vec<Unit>,
    index: &mut HashMap<(FileId, String), usize>,
    sites: &mut Vec<SchemaSite<'s>>,
    is_ref_target: bool,
) -> usize {
    let target =
        if node.value().get("$ref").is_some() && cx.spec.dialect == crate::load::Dialect::V30 {
            cx.spec.deref(&node).unwrap_or(node)
        } else {
            node
        };
    let key = (target.file_id, target.pointer.clone());
    if let Some(&u) = index.get(&key) {
        return u;
    }
    let u = units.len();
    index.insert(key, u);
    units.push(Unit {
        edges: Vec::new(),
        sites: 0..0,
        closed_by_referrers: None,
        only_all_of_branch: None,
    });
    let start = sites.len();
    let mut refs = Vec::new();
    walk(
        cx,
        &target,
        Position::Root,
        false,
        is_ref_target,
        0,
        sites,
        &mut refs,
    );
    units[u].sites = start..sites.len();
    for (ref_node, closed, all_of_branch) in refs {
        let resolved = match cx.spec.deref(&ref_node) {
            Ok(resolved) => resolved,
            Err(e) => {
                if let Ok(mut broken) = cx.broken.lock() {
                    broken.push(e);
                }
                continue;
            }
        };
        let t = unit_for(cx, resolved, units, index, sites, true);
        units[u].edges.push((t, closed));
        let entry = units[t].closed_by_referrers.get_or_insert(closed);
        *entry &= closed;
        let entry = units[t].only_all_of_branch.get_or_insert(all_of_branch);
        *entry &= all_of_branch;
    }
    u
}

/// Records `node` and its subschemas as sites; `$ref`s found are returned for their own units.
#[allow(clippy::too_many_arguments)]
fn walk<'s>(
    cx: &LintContext<'s>,
    node: &Node<'s>,
    position: Position<'s>,
    closed: bool,
    is_ref_target: bool,
    depth: usize,
    sites: &mut Vec<SchemaSite<'s>>,
    refs: &mut Vec<(Node<'s>, bool, bool)>,
) {
    if depth > 64 {
        return;
    }
    let Some(map) = node.value().as_object() else {
        return;
    };
    let closing = closed || map.get("unevaluatedProperties") == Some(&Value::Bool(false));
    if map.contains_key("$ref") {
        // In 3.0 the siblings of `$ref` are ignored; in 3.1 they apply beside the target, which is then
        // one part of a composition, like an `allOf` branch.
        let pure = cx.spec.dialect == crate::load::Dialect::V30
            || map
                .keys()
                .all(|k| k == "$ref" || k == "description" || k == "summary");
        refs.push((
            node.clone(),
            closing,
            position == Position::AllOfBranch || !pure,
        ));
        if pure {
            return;
        }
    }
    sites.push(SchemaSite {
        node: node.clone(),
        position,
        closed_by_composition: closed,
        operations: Default::default(),
        is_ref_target: is_ref_target && depth == 0,
        composed_only: false,
        merged: OnceCell::new(),
    });
    for (key, value) in map {
        let child = || node.child(key);
        match key.as_str() {
            k if MAP.contains(&k) => {
                if let Some(members) = value.as_object() {
                    for name in members.keys() {
                        let position = if k == "properties" {
                            Position::Property(name.as_str())
                        } else {
                            Position::Other(k)
                        };
                        walk(
                            cx,
                            &child().child(name),
                            position,
                            false,
                            false,
                            depth + 1,
                            sites,
                            refs,
                        );
                    }
                }
            }
            k if LIST.contains(&k) || (k == "items" && value.is_array()) => {
                if let Some(items) = value.as_array() {
                    for i in 0..items.len() {
                        let (position, inherit) = match k {
                            "allOf" => (Position::AllOfBranch, closing),
                            "anyOf" | "oneOf" => (Position::Alternative, closing),
                            _ => (Position::Other(k), false),
                        };
                        walk(
                            cx,
                            &child().child(&i.to_string()),
                            position,
                            inherit,
                            false,
                            depth + 1,
                            sites,
                            refs,
                        );
                    }
                }
            }
            k if ONE.contains(&k) && value.is_object() => {
                let inherit = matches!(k, "if" | "then" | "else" | "not") && closing;
                walk(
                    cx,
                    &child(),
                    Position::Other(k),
                    inherit,
                    false,
                    depth + 1,
                    sites,
                    refs,
                );
            }
            _ => {}
        }
    }
}

/// A schema's keywords as a small list borrowed from the spec: what rules read of merged views.
#[derive(Debug, Default, Clone)]
pub struct Keywords<'s> {
    entries: Vec<(&'s str, &'s Value)>,
}

impl<'s> Keywords<'s> {
    /// The keywords of one schema object.
    pub fn of(map: &'s Map<String, Value>) -> Self {
        Self {
            entries: map.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&'s Value> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Whether `type` is `name`, or a list that holds it.
    pub fn has_type(&self, name: &str) -> bool {
        match self.get("type") {
            Some(Value::String(t)) => t == name,
            Some(Value::Array(types)) => types.iter().any(|t| t == name),
            _ => false,
        }
    }

    /// Adds a keyword unless one of that name is already there.
    fn add(&mut self, key: &'s str, value: &'s Value) {
        if !self.contains_key(key) {
            self.entries.push((key, value));
        }
    }
}

pub(crate) fn merge_keywords<'s>(cx: &LintContext<'s>, node: &Node<'s>) -> Keywords<'s> {
    // Most schemas stand alone: their own keywords are the whole story.
    if let Some(map) = node.value().as_object()
        && !map.contains_key("$ref")
        && !map.contains_key("allOf")
    {
        return Keywords::of(map);
    }
    let mut merged = Keywords::default();
    let mut stack = vec![(node.clone(), 0)];
    while let Some((node, depth)) = stack.pop() {
        let Some(map) = node.value().as_object() else {
            continue;
        };
        let has_ref = map.contains_key("$ref");
        let siblings_apply = !has_ref || cx.spec.dialect == crate::load::Dialect::V31;
        if siblings_apply {
            for (k, v) in map {
                if k != "$ref" {
                    merged.add(k, v);
                }
            }
        }
        if depth >= 8 {
            continue;
        }
        let branches = if siblings_apply {
            map.get("allOf")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        } else {
            0
        };
        // Pushed in reverse so that the `$ref` target, then the branches in order, are merged next.
        for i in (0..branches).rev() {
            stack.push((node.child("allOf").child(&i.to_string()), depth + 1));
        }
        if has_ref && let Ok(target) = cx.spec.resolve(&node) {
            stack.push((target, depth + 1));
        }
    }
    merged
}
