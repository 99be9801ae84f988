//! `specgate compile SPEC [-o FILE]`: the plan as JSON, byte-identical for the same spec.

use std::path::Path;

use super::{Outcome, report};

pub fn run(spec: &Path, output: Option<&Path>) -> Outcome {
    let compiled = match specgate_compiler::compile_file(spec) {
        Ok(compiled) => compiled,
        Err(errors) => {
            report(&errors);
            return Outcome::Failure;
        }
    };
    report(&compiled.warnings);
    // Refuse a plan the runtime could not execute (say, a pattern its regex engine rejects).
    if let Err(e) = specgate_runtime::Engine::load(&compiled.plan) {
        eprintln!("error: the plan compiled but cannot be executed: {e}");
        return Outcome::Failure;
    }
    let text = compiled.plan.to_json();
    match output {
        None => {
            print!("{text}");
            Outcome::Success
        }
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => Outcome::Success,
            Err(e) => {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                Outcome::Failure
            }
        },
    }
}
