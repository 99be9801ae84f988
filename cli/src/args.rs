//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// OpenAPI-driven API security: one spec drives linting, compiled policy plans and the sidecar.
#[derive(Debug, Parser)]
#[command(name = "specgate", version, about)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile a spec into a plan (JSON). Exit 0 on success, 2 when the spec has errors.
    Compile {
        /// The root file of the spec (YAML or JSON, OpenAPI 3.0, 3.1 or 3.2).
        spec: PathBuf,
        /// Write the plan here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Lint specs: files, folders (every OpenAPI document in them) and globs. Exit 0 when nothing at or
    /// above --fail-on was found, 1 when something was, 2 when a spec or the configuration is invalid.
    Lint(LintArgs),
    /// List every lint rule, or print the documentation of one (by code or name).
    Rules {
        /// A rule code (SG101) or name (open-request-object).
        rule: Option<String>,
    },
    /// Print a plan's routes and the policies that guard them.
    Inspect {
        /// A plan written by `specgate compile`, or a spec (compiled on the fly).
        plan: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Spec files, folders or globs (default: the current folder).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text, env = "SPECGATE_LINT_FORMAT")]
    pub format: Format,
    /// The lowest severity that makes the exit code 1 (default: the config's `fail-on`, else error).
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// A `.specgate.yaml` to use instead of the nearest one above each spec.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Accept the findings recorded in this baseline; report only new ones.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record every current finding in this baseline file (and exit 0).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-like, for people.
    Text,
    /// Stable JSON: {"version": 1, "findings": [...]}.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other tools.
    Sarif,
    /// GitHub Actions workflow annotations.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Error,
}
