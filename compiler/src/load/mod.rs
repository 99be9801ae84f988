//! Reading a spec: its files (YAML or JSON), their source positions, and `$ref` resolution across them.
//!
//! The root file is read first; other files are read the first time a `$ref` leads into them, so a
//! `$ref` key inside example data or an extension (which nothing follows) never touches the disk.
//! Nothing is ever fetched over the network.

mod json;
pub mod spans;
mod yaml;

pub use yaml::resolve_plain as resolve_plain_yaml_scalar;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use crate::diagnostic::{Diagnostic, Location, closest};
use spans::{Pos, Spans};

/// Bounds on what a spec may make the loader do.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_files: usize,
    pub max_depth: usize,
    /// Nodes that YAML aliases may add in all (billion laughs).
    pub max_alias_nodes: usize,
    /// `$ref`s that may be followed in a row before the chain is refused.
    pub max_ref_chain: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 64 << 20,
            max_files: 1_000,
            max_depth: 128,
            max_alias_nodes: 1_000_000,
            max_ref_chain: 64,
        }
    }
}

/// A parse failure inside one file, before it is turned into a [`Diagnostic`].
#[derive(Debug)]
pub struct ParseError {
    pub pos: Pos,
    pub pointer: String,
    pub message: String,
    pub hint: Option<String>,
}

/// OpenAPI major.minor versions the compiler reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dialect {
    /// 3.0.x: schemas are OpenAPI's JSON Schema subset (nullable, boolean exclusive bounds).
    V30,
    /// 3.1.x and 3.2.x: schemas are JSON Schema 2020-12.
    V31,
}

pub type FileId = usize;

#[derive(Debug)]
pub struct SourceFile {
    /// The path as displayed in diagnostics (relative to where the root was given).
    pub display: String,
    pub path: PathBuf,
    pub text: String,
    pub value: Value,
    /// Bytes of `display` that name the root file's folder.
    root_prefix: usize,
    is_json: bool,
    spans: OnceLock<Spans>,
    keys: spans::KeyIndex,
}

impl SourceFile {
    /// The path relative to the root file's folder: the same wherever the spec is compiled from.
    pub fn portable_path(&self) -> &str {
        &self.display[self.root_prefix..]
    }

    fn spans(&self) -> &Spans {
        self.spans.get_or_init(|| {
            if self.is_json {
                json::spans(&self.text)
            } else {
                Spans::default()
            }
        })
    }

    /// Where the node at `pointer` starts (its key, for an object member, when `at_key`).
    pub fn locate(&self, pointer: &str, at_key: bool) -> Location {
        self.locate_with(&mut spans::Walker::default(), pointer, at_key)
    }

    /// As [`Self::locate`], resuming from where `walker` walked last (see [`spans::Walker`]).
    pub fn locate_with<'s>(
        &'s self,
        walker: &mut spans::Walker<'s>,
        pointer: &str,
        at_key: bool,
    ) -> Location {
        let pos = walker.locate(&self.value, self.spans(), &self.keys, pointer, at_key);
        Location {
            file: self.display.clone(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            pointer: pointer.to_owned(),
        }
    }
}

/// The value at a JSON pointer. Like `Value::pointer`, without allocating for segments that need no
/// unescaping: rules look nodes up many times, and this is their hottest path.
pub fn lookup<'v>(root: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(root);
    }
    thread_local! {
        /// Reused for segments that need unescaping (every `/paths/~1…` pointer has one).
        static SEGMENT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    let mut value = root;
    for raw in pointer.strip_prefix('/')?.split('/') {
        value = match value {
            Value::Object(map) if raw.contains('~') => SEGMENT.with_borrow_mut(|segment| {
                segment.clear();
                let mut rest = raw;
                while let Some(i) = rest.find('~') {
                    segment.push_str(&rest[..i]);
                    segment.push(if rest[i + 1..].starts_with('1') {
                        '/'
                    } else {
                        '~'
                    });
                    rest = rest.get(i + 2..).unwrap_or("");
                }
                segment.push_str(rest);
                map.get(segment.as_str())
            })?,
            Value::Object(map) => map.get(raw)?,
            Value::Array(items) => items.get(raw.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Reads any YAML or JSON file (a spec fragment, say) into a value, with the loader's checks and limits.
pub fn read_value(path: &Path, limits: &Limits) -> Result<Value, Diagnostic> {
    read_file(path, path.display().to_string(), limits).map(|f| f.value)
}

/// Reads any YAML or JSON file, such as a configuration file, for [`Node::root_of`].
pub fn read_source(path: &Path, limits: &Limits) -> Result<SourceFile, Diagnostic> {
    read_file(path, path.display().to_string(), limits)
}

/// A loaded spec: the root file and every file read so far through `$ref`s.
///
/// Files live in an append-only arena: a file read later never moves the ones before it, so nodes
/// can borrow values for as long as the spec lives while `$ref`s keep loading files.
#[derive(Debug)]
pub struct Spec {
    files: elsa::sync::FrozenVec<Box<SourceFile>>,
    by_path: Mutex<HashMap<PathBuf, FileId>>,
    limits: Limits,
    pub dialect: Dialect,
    /// The document's `openapi` field as written.
    pub openapi: String,
}

/// A node reached in the spec: which file, where in it (JSON pointer), and its value.
#[derive(Debug, Clone)]
pub struct Node<'s> {
    pub file: &'s SourceFile,
    pub file_id: FileId,
    pub pointer: String,
    value: &'s Value,
}

impl<'s> Node<'s> {
    /// The whole of a file.
    pub fn root_of(file: &'s SourceFile, file_id: FileId) -> Self {
        Node {
            file,
            file_id,
            pointer: String::new(),
            value: &file.value,
        }
    }

    /// The node at `pointer` in `file` (a null value when the pointer leads nowhere).
    pub fn at(file: &'s SourceFile, file_id: FileId, pointer: &str) -> Self {
        Node {
            file,
            file_id,
            pointer: pointer.to_owned(),
            value: lookup(&file.value, pointer).unwrap_or(&Value::Null),
        }
    }

    pub fn value(&self) -> &'s Value {
        self.value
    }
    pub fn location(&self) -> Location {
        self.file.locate(&self.pointer, false)
    }
    pub fn key_location(&self) -> Location {
        self.file.locate(&self.pointer, true)
    }
    /// As [`Self::location`] (or [`Self::key_location`]), resuming from where `walker` walked last.
    pub fn location_with(&self, walker: &mut spans::Walker<'s>, at_key: bool) -> Location {
        self.file.locate_with(walker, &self.pointer, at_key)
    }
    /// The node below this one at `segment` (unescaped): an object member or an array item.
    pub fn child(&self, segment: &str) -> Node<'s> {
        let value = match self.value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        let mut pointer = String::with_capacity(self.pointer.len() + 1 + segment.len());
        pointer.push_str(&self.pointer);
        pointer.push('/');
        // Most segments need no escaping: copy them as they are, without an intermediate string.
        if segment.contains(['~', '/']) {
            pointer.push_str(&specgate_plan::escape_pointer(segment));
        } else {
            pointer.push_str(segment);
        }
        Node {
            file: self.file,
            file_id: self.file_id,
            pointer,
            value: value.unwrap_or(&Value::Null),
        }
    }
}

impl Spec {
    /// Reads the root file of a spec and checks that it is an OpenAPI 3.0, 3.1 or 3.2 document.
    pub fn load(path: &Path, limits: Limits) -> Result<Spec, Diagnostic> {
        let mut root = read_file(path, path.display().to_string(), &limits)?;
        root.root_prefix = root_prefix(&root.display);
        let (dialect, openapi) = detect_version(&root)?;
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(Spec {
            files: elsa::sync::FrozenVec::from(vec![Box::new(root)]),
            by_path: Mutex::new(HashMap::from([(key, 0)])),
            limits,
            dialect,
            openapi,
        })
    }

    /// Like [`Spec::load`], for text already in memory; `path` names it and anchors relative `$ref`s.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>, limits: Limits) -> Result<Spec, Diagnostic> {
        if bytes.len() as u64 > limits.max_file_bytes {
            return Err(Diagnostic::error(
                "file-too-large",
                Location {
                    file: path.display().to_string(),
                    line: 1,
                    column: 1,
                    pointer: String::new(),
                },
                "the spec is over the size limit",
            ));
        }
        let mut root = parse_file(path, path.display().to_string(), bytes, &limits)?;
        root.root_prefix = root_prefix(&root.display);
        let (dialect, openapi) = detect_version(&root)?;
        Ok(Spec {
            files: elsa::sync::FrozenVec::from(vec![Box::new(root)]),
            by_path: Mutex::new(HashMap::from([(path.to_path_buf(), 0)])),
            limits,
            dialect,
            openapi,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn root(&self) -> Node<'_> {
        self.node(0, "")
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        self.files
            .get(id)
            .unwrap_or_else(|| unreachable!("file ids come from this spec"))
    }

    pub fn node(&self, file_id: FileId, pointer: &str) -> Node<'_> {
        Node::at(self.file(file_id), file_id, pointer)
    }

    /// Every file read so far, in the order they were read.
    pub fn files(&self) -> Vec<&SourceFile> {
        (0..self.files.len()).map(|i| self.file(i)).collect()
    }

    /// Resolves the `$ref` held by `at` (an object with a `$ref` string) to the node it names.
    pub fn resolve<'s>(&'s self, at: &Node<'s>) -> Result<Node<'s>, Diagnostic> {
        let ref_node = at.child("$ref");
        let Some(reference) = ref_node.value().as_str() else {
            return Err(Diagnostic::error(
                "invalid-ref",
                ref_node.location(),
                "`$ref` must be a string",
            ));
        };
        let (target, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let error = |code, message: String| Diagnostic::error(code, ref_node.location(), message);
        if target.contains("://") || target.starts_with("//") || target.starts_with("urn:") {
            return Err(error(
                "remote-ref",
                format!(
                    "`{reference}` is a remote reference; specgate never fetches over the network"
                ),
            )
            .with_hint(
                "download the document next to the spec and refer to it by a relative path",
            ));
        }
        let file_id = if target.is_empty() {
            at.file_id
        } else {
            let decoded = percent_decode(target);
            let base = at.file.path.parent().unwrap_or(Path::new(""));
            let path = normalize(&base.join(&decoded));
            let display_base = Path::new(&at.file.display)
                .parent()
                .unwrap_or(Path::new(""));
            let display = normalize(&display_base.join(&decoded))
                .display()
                .to_string();
            self.open(&path, display).map_err(|mut d| {
                if d.code == "io" {
                    d = error(
                        "unresolved-ref",
                        format!(
                            "`{reference}` names a file that cannot be read: {}",
                            d.message
                        ),
                    );
                }
                d
            })?
        };
        let fragment = percent_decode(fragment);
        if !fragment.is_empty() && !fragment.starts_with('/') {
            return Err(error(
                "unsupported-ref",
                format!("`{reference}` uses a plain-name fragment"),
            )
            .with_hint("refer to the target by JSON pointer, such as `#/components/schemas/Pet`"));
        }
        let file = self.file(file_id);
        let Some(value) = lookup(&file.value, &fragment) else {
            let mut d = error("unresolved-ref", format!("`{reference}` does not resolve"));
            if let Some(hint) = near_miss(&file.value, &fragment) {
                d = d.with_hint(hint);
            }
            return Err(d);
        };
        Ok(Node {
            file,
            file_id,
            pointer: fragment,
            value,
        })
    }

    /// Follows `$ref`s from `at` until a node that is not a reference; refuses cycles and long chains.
    pub fn deref<'s>(&'s self, at: &Node<'s>) -> Result<Node<'s>, Diagnostic> {
        let mut node = at.clone();
        let mut seen: Vec<(FileId, String)> = Vec::new();
        while node.value().get("$ref").is_some() {
            let key = (node.file_id, node.pointer.clone());
            if seen.contains(&key) {
                return Err(Diagnostic::error(
                    "ref-cycle",
                    at.child("$ref").location(),
                    "this `$ref` leads back to itself through a cycle of references",
                )
                .with_hint("a chain of `$ref`s must end at an object that is not a reference"));
            }
            if seen.len() >= self.limits.max_ref_chain {
                return Err(Diagnostic::error(
                    "ref-chain",
                    at.child("$ref").location(),
                    format!("more than {} `$ref`s in a row", self.limits.max_ref_chain),
                ));
            }
            seen.push(key);
            node = self.resolve(&node)?;
        }
        Ok(node)
    }

    fn open(&self, path: &Path, display: String) -> Result<FileId, Diagnostic> {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut by_path = self
            .by_path
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(&id) = by_path.get(&key) {
            return Ok(id);
        }
        if self.files.len() >= self.limits.max_files {
            return Err(Diagnostic::error(
                "too-many-files",
                self.root().location(),
                format!("the spec spans more than {} files", self.limits.max_files),
            ));
        }
        let mut file = read_file(path, display, &self.limits)?;
        let root = self.file(0);
        file.root_prefix = if file.display.starts_with(&root.display[..root.root_prefix]) {
            root.root_prefix
        } else {
            0
        };
        let id = self.files.push_get_index(Box::new(file));
        by_path.insert(key, id);
        Ok(id)
    }
}

fn read_file(path: &Path, display: String, limits: &Limits) -> Result<SourceFile, Diagnostic> {
    let whole_file = |line| Location {
        file: display.clone(),
        line,
        column: 1,
        pointer: String::new(),
    };
    let metadata = std::fs::metadata(path).map_err(|e| {
        Diagnostic::error("io", whole_file(1), format!("cannot read `{display}`: {e}"))
    })?;
    if metadata.len() > limits.max_file_bytes {
        return Err(Diagnostic::error(
            "file-too-large",
            whole_file(1),
            format!(
                "`{display}` is {} bytes, over the limit of {}",
                metadata.len(),
                limits.max_file_bytes
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        Diagnostic::error("io", whole_file(1), format!("cannot read `{display}`: {e}"))
    })?;
    parse_file(path, display, bytes, limits)
}

/// Parses a file's bytes (YAML or JSON, by extension or by the first character).
fn parse_file(
    path: &Path,
    display: String,
    bytes: Vec<u8>,
    limits: &Limits,
) -> Result<SourceFile, Diagnostic> {
    let whole_file = |line| Location {
        file: display.clone(),
        line,
        column: 1,
        pointer: String::new(),
    };
    let mut text = String::from_utf8(bytes).map_err(|e| {
        let prefix = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + prefix.iter().filter(|b| **b == b'\n').count() as u32;
        Diagnostic::error(
            "not-utf8",
            whole_file(line),
            format!("`{display}` is not UTF-8 text"),
        )
        .with_hint("save the file as UTF-8")
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..3);
    }
    let is_json = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => true,
        Some("yaml" | "yml") => false,
        _ => text.trim_start().starts_with('{'),
    };
    let parsed = if is_json {
        json::parse(&text, limits).map(|v| (v, None))
    } else {
        yaml::parse(&text, limits).map(|(v, s)| (v, Some(s)))
    };
    let (value, spans) = parsed.map_err(|e| {
        let mut d = Diagnostic::error(
            "syntax",
            Location {
                file: display.clone(),
                line: e.pos.line.max(1),
                column: e.pos.column.max(1),
                pointer: e.pointer,
            },
            e.message,
        );
        d.hint = e.hint;
        d
    })?;
    let cell = OnceLock::new();
    if let Some(spans) = spans {
        let _ = cell.set(spans);
    }
    Ok(SourceFile {
        display,
        path: path.to_path_buf(),
        text,
        value,
        root_prefix: 0,
        is_json,
        spans: cell,
        keys: spans::KeyIndex::default(),
    })
}

/// The length of the folder part of a path (with its separator), so that only the name remains.
fn root_prefix(display: &str) -> usize {
    display.rfind(['/', '\\']).map_or(0, |i| i + 1)
}

fn detect_version(root: &SourceFile) -> Result<(Dialect, String), Diagnostic> {
    let hint = "specgate reads OpenAPI 3.0, 3.1 and 3.2 documents";
    let Value::Object(doc) = &root.value else {
        return Err(Diagnostic::error(
            "not-openapi",
            root.locate("", false),
            "the document is not a mapping of OpenAPI fields",
        )
        .with_hint(hint));
    };
    if doc.contains_key("swagger") {
        return Err(Diagnostic::error("unsupported-version", root.locate("/swagger", false), "Swagger 2.0 documents are not supported")
            .with_hint("convert it to OpenAPI 3 first, for example with `npx swagger2openapi in.yaml -o out.yaml`, or the converter at converter.swagger.io"));
    }
    let Some(version) = doc.get("openapi") else {
        return Err(Diagnostic::error(
            "not-openapi",
            root.locate("", false),
            "the document has no `openapi` field",
        )
        .with_hint(hint));
    };
    let Some(text) = version.as_str() else {
        return Err(Diagnostic::error(
            "unsupported-version",
            root.locate("/openapi", false),
            format!("`openapi: {version}` must be text"),
        )
        .with_hint("quote the version, as in `openapi: \"3.1.0\"`"));
    };
    let dialect = match text.split('.').take(2).collect::<Vec<_>>().as_slice() {
        ["3", "0"] => Dialect::V30,
        ["3", "1" | "2"] => Dialect::V31,
        _ => {
            return Err(Diagnostic::error(
                "unsupported-version",
                root.locate("/openapi", false),
                format!("OpenAPI version `{text}` is not supported"),
            )
            .with_hint(hint));
        }
    };
    Ok((dialect, text.to_owned()))
}

/// A "did you mean" for a pointer that leads nowhere: the nearest key where it goes astray.
fn near_miss(root: &Value, pointer: &str) -> Option<String> {
    let mut value = root;
    let mut prefix = String::from("#");
    for raw in pointer.strip_prefix('/')?.split('/') {
        let segment = specgate_plan::unescape_pointer(raw);
        match value
            .get(segment.as_str())
            .or_else(|| segment.parse::<usize>().ok().and_then(|i| value.get(i)))
        {
            Some(next) => {
                value = next;
                prefix.push('/');
                prefix.push_str(raw);
            }
            None => {
                let keys = value.as_object()?.keys().map(String::as_str);
                return closest(&segment, keys).map(|c| {
                    format!(
                        "did you mean `{prefix}/{}`?",
                        specgate_plan::escape_pointer(c)
                    )
                });
            }
        }
    }
    None
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Removes `.` and resolves `..` without touching the file system.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}
