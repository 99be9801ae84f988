//! The linter: rules over a loaded spec and its compiled plan, one rule per file under `rules/`.
//!
//! Rules see the spec through a [`LintContext`]: its operations with their effective security and
//! policy (from the plan), and every schema node reachable from a request, each visited once with the
//! operations that reach it, so that a shared schema gives one finding that lists its operations.
//! A rule that panics on a strange node yields an `internal-error` finding; the other rules go on.

pub mod baseline;
pub mod config;
pub mod context;
pub mod registry;
pub mod render;
mod rules;

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;
use serde_json::Value;

pub use config::Config;
pub use context::{LintContext, SchemaSite};

use crate::diagnostic::{Location, Severity};
use crate::load::{Node, Spec};

/// What a rule is, for `specgate rules` and the output formats.
#[derive(Debug, Clone, Copy)]
pub struct RuleMeta {
    /// Stable code, such as `SG101`.
    pub code: &'static str,
    /// Stable kebab-case name, such as `open-request-object`.
    pub name: &'static str,
    pub severity: Severity,
    /// One line.
    pub summary: &'static str,
}

/// A lint rule. Its documentation is the `//!` comment at the top of its file.
pub trait Rule: Sync {
    fn meta(&self) -> RuleMeta;
    /// Whether the rule reads the request schemas ([`LintContext::request_schemas`]), which are
    /// collected before such rules run.
    fn reads_schemas(&self) -> bool {
        false
    }
    fn check<'s>(&self, cx: &LintContext<'s>, out: &mut Findings<'s>);
}

/// One finding: a rule, where, what, and which operations it affects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    #[serde(flatten)]
    pub location: Location,
    /// `METHOD /path` of every operation the finding affects (empty for document-wide findings).
    pub operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Where rules put their findings.
#[derive(Debug)]
pub struct Findings<'s> {
    meta: RuleMeta,
    items: Vec<Finding>,
    /// A rule reports in document order: each location is found from where the previous one was.
    walker: crate::load::spans::Walker<'s>,
}

impl<'s> Findings<'s> {
    fn new(meta: RuleMeta) -> Self {
        Self {
            meta,
            items: Vec::new(),
            walker: Default::default(),
        }
    }

    /// Reports `message` at `node`, affecting `operations`.
    pub fn report(
        &mut self,
        node: &Node<'s>,
        message: impl Into<String>,
        operations: Vec<String>,
    ) -> &mut Finding {
        let location = node.location_with(&mut self.walker, false);
        self.report_at(location, message, operations)
    }

    /// Reports at a key (an unwanted key is best shown where it is written).
    pub fn report_key(
        &mut self,
        node: &Node<'s>,
        message: impl Into<String>,
        operations: Vec<String>,
    ) -> &mut Finding {
        let location = node.location_with(&mut self.walker, true);
        self.report_at(location, message, operations)
    }

    fn report_at(
        &mut self,
        location: Location,
        message: impl Into<String>,
        operations: Vec<String>,
    ) -> &mut Finding {
        self.items.push(Finding {
            code: self.meta.code,
            rule: self.meta.name,
            severity: self.meta.severity,
            message: message.into(),
            location,
            operations,
            hint: None,
        });
        let last = self.items.len() - 1;
        &mut self.items[last]
    }
}

impl Finding {
    pub fn hint(&mut self, hint: impl Into<String>) -> &mut Self {
        self.hint = Some(hint.into());
        self
    }
}

/// The rule reported when another rule fails.
pub const INTERNAL_ERROR: RuleMeta = RuleMeta {
    code: "SG000",
    name: "internal-error",
    severity: Severity::Error,
    summary: "A rule failed on this spec; the other rules still ran. Please report it.",
};

/// Stands for [`INTERNAL_ERROR`] in rule listings.
#[derive(Debug)]
pub struct InternalError;

impl Rule for InternalError {
    fn meta(&self) -> RuleMeta {
        INTERNAL_ERROR
    }
    fn check<'s>(&self, _: &LintContext<'s>, _: &mut Findings<'s>) {}
}

/// Runs every enabled rule over the spec and returns the findings, sorted by file and position.
pub fn lint(cx: &LintContext, config: &Config) -> Vec<Finding> {
    // Two threads (when there are two cores) take rules from one queue. Rules that read only
    // operations come first, so the second thread has work while this one collects the request
    // schemas and their merged keyword views, which the remaining rules share.
    let (mut queue, schema_rules): (Vec<(&dyn Rule, Severity)>, Vec<_>) = registry::RULES
        .iter()
        .filter_map(|r| config.severity(r.meta()).map(|s| (*r, s)))
        .partition(|(r, _)| !r.reads_schemas());
    queue.extend(schema_rules);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut found = Vec::new();
        while let Some((rule, severity)) =
            queue.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
        {
            found.extend(run_rule(cx, *rule, *severity));
        }
        found
    };
    let second_core = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let mut all = if second_core {
        std::thread::scope(|scope| {
            let other = scope.spawn(work);
            // Backwards, so that a schema rule on the other thread, going forwards, meets this work
            // halfway instead of waiting on the same cells.
            for site in cx.request_schemas().iter().rev() {
                site.merged(cx);
            }
            let mut mine = work();
            mine.extend(other.join().unwrap_or_default());
            mine
        })
    } else {
        // On one core (a CI container, `taskset`), a second thread would only take turns with this one.
        work()
    };
    let any_inline_ignore = cx
        .spec
        .files()
        .iter()
        .any(|f| f.text.contains("x-specgate-ignore"));
    all.retain(|f| !(config.excludes(f) || any_inline_ignore && ignored_inline(cx.spec, f)));
    all.sort_by(|a, b| {
        (&a.location.file, a.location.line, a.location.column, a.code).cmp(&(
            &b.location.file,
            b.location.line,
            b.location.column,
            b.code,
        ))
    });
    all.dedup();
    all
}

/// One rule's findings at the configured severity; a rule that panics yields an internal error.
fn run_rule(cx: &LintContext, rule: &dyn Rule, severity: Severity) -> Vec<Finding> {
    let meta = rule.meta();
    let mut out = Findings::new(meta);
    match catch_unwind(AssertUnwindSafe(|| rule.check(cx, &mut out))) {
        Ok(()) => out
            .items
            .into_iter()
            .map(|mut f| {
                f.severity = severity;
                f
            })
            .collect(),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            let mut out = Findings::new(INTERNAL_ERROR);
            out.report(
                &cx.spec.root(),
                format!(
                    "rule {} ({}) failed and was skipped: {reason}",
                    meta.code, meta.name
                ),
                Vec::new(),
            )
            .hint("the other rules ran; please report this with the spec that caused it");
            out.items
        }
    }
}

/// Whether an `x-specgate-ignore: [CODE or name, …]` on the finding's node or an ancestor silences it.
fn ignored_inline(spec: &Spec, finding: &Finding) -> bool {
    let Some(file) = spec
        .files()
        .into_iter()
        .find(|f| f.display == finding.location.file)
    else {
        return false;
    };
    let mut value = &file.value;
    let silences = |v: &Value| {
        v.get("x-specgate-ignore")
            .and_then(Value::as_array)
            .is_some_and(|codes| {
                codes.iter().any(|c| {
                    c.as_str()
                        .is_some_and(|c| c.eq_ignore_ascii_case(finding.code) || c == finding.rule)
                })
            })
    };
    if silences(value) {
        return true;
    }
    let pointer = finding.location.pointer.strip_prefix('/').unwrap_or("");
    if pointer.is_empty() {
        return false;
    }
    for raw in pointer.split('/') {
        let segment = specgate_plan::unescape_pointer(raw);
        let next = match value {
            Value::Object(map) => map.get(&segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        let Some(next) = next else {
            return false;
        };
        value = next;
        if silences(value) {
            return true;
        }
    }
    false
}

/// The labels (`METHOD /path`) of a set of operation indices, in plan order.
pub fn labels(cx: &LintContext, operations: &BTreeSet<usize>) -> Vec<String> {
    operations
        .iter()
        .map(|&i| cx.operations[i].label.clone())
        .collect()
}

/// Loads, compiles and lints the spec rooted at `path`. Errors mean the spec could not be linted.
pub fn lint_file(
    path: &std::path::Path,
    config: &Config,
) -> Result<(Spec, Vec<Finding>), Vec<crate::Diagnostic>> {
    let spec = Spec::load(path, crate::Limits::default()).map_err(|d| vec![d])?;
    // Schemas are walked in their source form by the rules; the plan gives operations and policies.
    let compiled = crate::compile::compile_policies(&spec)?;
    let findings = {
        let cx = LintContext::new(&spec, &compiled.plan);
        let findings = lint(&cx, config);
        // A broken `$ref` in a request schema makes the spec invalid, as compiling it would say.
        let broken = cx.broken_refs();
        if !broken.is_empty() {
            return Err(broken);
        }
        findings
    };
    Ok((spec, findings))
}
