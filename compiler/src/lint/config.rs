//! `.specgate.yaml`: rule severities, disabled rules and excluded files or API paths.
//!
//! ```yaml
//! lint:
//!   fail-on: warning          # the default for --fail-on
//!   rules:
//!     SG205: off              # by code…
//!     missing-429: info       # …or by name: off | info | warning | error
//!   exclude: ["legacy/**"]    # spec files (globs, relative to the config file's folder)
//!   exclude-paths: ["/internal/**"]   # API paths: findings that only affect these are dropped
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use super::{Finding, RuleMeta};
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::Limits;

/// The name of the configuration file, looked for upward from each spec.
pub const FILE_NAME: &str = ".specgate.yaml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Off,
    Info,
    Warning,
    Error,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    #[serde(default)]
    lint: LintSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LintSection {
    fail_on: Option<Severity>,
    #[serde(default)]
    rules: BTreeMap<String, Level>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    exclude_paths: Vec<String>,
}

/// The effective lint configuration.
#[derive(Debug, Default)]
pub struct Config {
    /// Where it was read from, if anywhere.
    pub path: Option<PathBuf>,
    pub fail_on: Option<Severity>,
    rules: BTreeMap<String, Level>,
    exclude: Option<GlobSet>,
    exclude_paths: Option<GlobSet>,
    base: PathBuf,
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(serde::de::Error::custom(format!(
                "`{other}` is not a severity; write info, warning or error"
            ))),
        }
    }
}

impl Config {
    /// Reads a configuration file, checking rule names and globs.
    pub fn read(path: &Path) -> Result<Self, Diagnostic> {
        let source = crate::load::read_source(path, &Limits::default())?;
        let root = crate::load::Node::root_of(&source, 0);
        let file: File = if root.value().is_null() {
            File::default()
        } else {
            crate::policy::deserialize_at(&root, FILE_NAME)?
        };
        let section = file.lint;
        for name in section.rules.keys() {
            if !super::registry::RULES
                .iter()
                .any(|r| r.meta().code == name || r.meta().name == name)
            {
                let known = super::registry::RULES
                    .iter()
                    .flat_map(|r| [r.meta().code, r.meta().name]);
                let hint = crate::diagnostic::did_you_mean(name, known)
                    .unwrap_or_else(|| "`specgate rules` lists every rule".into());
                let location = crate::diagnostic::Location {
                    file: path.display().to_string(),
                    line: 1,
                    column: 1,
                    pointer: format!("/lint/rules/{name}"),
                };
                return Err(Diagnostic::error(
                    "unknown-rule",
                    location,
                    format!("no rule is called `{name}`"),
                )
                .with_hint(hint));
            }
        }
        let globs = |patterns: &[String], what: &str| -> Result<Option<GlobSet>, Diagnostic> {
            if patterns.is_empty() {
                return Ok(None);
            }
            let mut builder = GlobSetBuilder::new();
            for p in patterns {
                let glob = Glob::new(p).map_err(|e| {
                    let location = crate::diagnostic::Location {
                        file: path.display().to_string(),
                        line: 1,
                        column: 1,
                        pointer: format!("/lint/{what}"),
                    };
                    Diagnostic::error(
                        "invalid-value",
                        location,
                        format!("`{p}` is not a valid glob: {e}"),
                    )
                })?;
                builder.add(glob);
            }
            Ok(builder.build().ok())
        };
        Ok(Self {
            path: Some(path.to_path_buf()),
            fail_on: section.fail_on,
            exclude: globs(&section.exclude, "exclude")?,
            exclude_paths: globs(&section.exclude_paths, "exclude-paths")?,
            rules: section.rules,
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        })
    }

    /// The configuration file that applies to a spec: the nearest `.specgate.yaml` upward.
    pub fn find_for(spec: &Path) -> Option<PathBuf> {
        let start = std::fs::canonicalize(spec).ok()?;
        start
            .ancestors()
            .skip(1)
            .map(|dir| dir.join(FILE_NAME))
            .find(|p| p.is_file())
    }

    /// The severity a rule reports at, or `None` when it is off.
    pub fn severity(&self, meta: RuleMeta) -> Option<Severity> {
        let level = self
            .rules
            .get(meta.code)
            .or_else(|| self.rules.get(meta.name));
        match level {
            None => Some(meta.severity),
            Some(Level::Off) => None,
            Some(Level::Info) => Some(Severity::Info),
            Some(Level::Warning) => Some(Severity::Warning),
            Some(Level::Error) => Some(Severity::Error),
        }
    }

    /// Whether a spec file is excluded from linting.
    pub fn excludes_file(&self, file: &Path) -> bool {
        let Some(set) = &self.exclude else {
            return false;
        };
        let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        let base = std::fs::canonicalize(&self.base).unwrap_or_else(|_| self.base.clone());
        set.is_match(absolute.strip_prefix(&base).unwrap_or(&absolute))
    }

    /// Whether a finding only affects excluded API paths.
    pub fn excludes(&self, finding: &Finding) -> bool {
        let Some(set) = &self.exclude_paths else {
            return false;
        };
        !finding.operations.is_empty()
            && finding.operations.iter().all(|label| {
                set.is_match(
                    label
                        .split_once(' ')
                        .map_or(label.as_str(), |(_, path)| path),
                )
            })
    }
}
