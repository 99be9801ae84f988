//! One module per subcommand; each returns an [`Outcome`] that `main` turns into an exit code.

mod compile;
mod inspect;
mod lint;
mod rules;
mod run;

use std::path::Path;

use specgate_compiler::{Diagnostic, Severity};
use specgate_plan::Plan;

use crate::args::{Args, Command};

/// How a command ended, as the exit code says: 0 success, 1 findings, 2 could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Findings,
    Failure,
}

impl Outcome {
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Findings => 1,
            Self::Failure => 2,
        }
    }
}

pub fn run(args: Args) -> Outcome {
    match args.command {
        Command::Compile { spec, output } => compile::run(&spec, output.as_deref()),
        Command::Inspect { plan } => inspect::run(&plan),
        Command::Lint(args) => lint::run(&args),
        Command::Rules { rule } => rules::run(rule.as_deref()),
        Command::Run(args) => run::run(&args),
    }
}

/// Prints diagnostics to standard error, errors last, with a count.
pub fn report(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        eprintln!("{d}\n");
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        eprintln!("{errors} error{}", if errors == 1 { "" } else { "s" });
    }
}

/// A plan from a plan file, or compiled from a spec file (anything that is not a plan).
pub fn load_plan(path: &Path) -> Result<Plan, Outcome> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read `{}`: {e}", path.display());
        Outcome::Failure
    })?;
    if text.contains("\"format-version\"") && text.trim_start().starts_with('{') {
        return Plan::from_json(&text).map_err(|e| {
            eprintln!("error: `{}`: {e}", path.display());
            Outcome::Failure
        });
    }
    match specgate_compiler::compile_file(path) {
        Ok(compiled) => {
            report(&compiled.warnings);
            Ok(compiled.plan)
        }
        Err(errors) => {
            report(&errors);
            Err(Outcome::Failure)
        }
    }
}
